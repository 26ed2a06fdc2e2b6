// The health probe's gRPC client: nghttp2's client session on memory
// buffers over one blocking-with-deadline socket.
#include "serve/client/grpc_probe.hpp"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/build_info.hpp"
#include "core/grpc_health.hpp"
#include "serve/client/client_socket.hpp"

namespace devops::serve {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxAnswer = std::size_t{64} * 1024;

struct Call {
  GrpcProbeResult result;
  std::string body;
  bool too_large{false};
  bool closed{false};
  bool heard{false};     // the server has sent something
  bool settings{false};  // ... and its SETTINGS frame: it speaks HTTP/2
  std::uint32_t reset{0};
  int http_status{0};
  std::string content_type;
  std::string request;  // the framed request message, sent as DATA
};

std::string percent_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      unsigned v = 0;
      const auto r = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
      if (r.ec == std::errc() && r.ptr == in.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

nghttp2_nv nv(std::string_view n, std::string_view v) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(), NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

std::string_view serving_status_name(int status) {
  switch (status) {
    case 0: return "UNKNOWN";
    case 1: return "SERVING";
    case 2: return "NOT_SERVING";
    case 3: return "SERVICE_UNKNOWN";
    default: return "(none)";
  }
}

GrpcProbeResult grpc_health_check(const core::HttpTarget& target, std::chrono::milliseconds timeout,
                                  const TlsClientOptions& tls) {
  std::signal(SIGPIPE, SIG_IGN);
  const auto deadline = Clock::now() + timeout;
  Call call;
  ClientSocket conn(target, deadline);
  if (!conn.valid()) {
    call.result.error = conn.error();
    return call.result;
  }
  if (target.tls && !conn.start_tls(tls, target.host, std::string_view("\x02h2", 3))) {
    call.result.error = conn.error();
    call.result.problem = conn.problem();
    return call.result;
  }

  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(
      cbs, [](nghttp2_session*, const nghttp2_frame*, const std::uint8_t* n, std::size_t nl, const std::uint8_t* v,
              std::size_t vl, std::uint8_t, void* p) {
        auto& c = *static_cast<Call*>(p);
        const std::string_view name(reinterpret_cast<const char*>(n), nl);
        const std::string_view value(reinterpret_cast<const char*>(v), vl);
        if (name == ":status") {
          c.http_status = std::atoi(std::string(value).c_str());
        } else if (name == "content-type") {
          c.content_type = value;
        } else if (name == "grpc-status") {
          c.result.grpc_status = std::atoi(std::string(value).c_str());
        } else if (name == "grpc-message") {
          c.result.grpc_message = percent_decode(value);
        }
        return 0;
      });
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
      cbs, [](nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t* d, std::size_t n, void* p) {
        auto& c = *static_cast<Call*>(p);
        if (c.body.size() + n > kMaxAnswer) {
          c.too_large = true;
          return static_cast<int>(NGHTTP2_ERR_CALLBACK_FAILURE);
        }
        c.body.append(reinterpret_cast<const char*>(d), n);
        return 0;
      });
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                         [](nghttp2_session*, std::int32_t, std::uint32_t e, void* p) {
                                                           auto& c = *static_cast<Call*>(p);
                                                           c.closed = true;
                                                           c.reset = e;
                                                           return 0;
                                                         });
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, [](nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type == NGHTTP2_SETTINGS) static_cast<Call*>(p)->settings = true;
    return 0;
  });
  nghttp2_session* raw = nullptr;
  nghttp2_session_client_new(&raw, cbs, &call);
  nghttp2_session_callbacks_del(cbs);
  const std::unique_ptr<nghttp2_session, decltype(&nghttp2_session_del)> session(raw, &nghttp2_session_del);
  nghttp2_submit_settings(raw, NGHTTP2_FLAG_NONE, nullptr, 0);

  // HealthCheckRequest{service}, framed: flag 0, a 4-byte length, the message.
  const auto service = target.grpc_service();
  const std::string message = core::encode_health_request(service);
  const auto len = static_cast<std::uint32_t>(message.size());
  call.request = {'\0', static_cast<char>(len >> 24), static_cast<char>((len >> 16) & 0xffU),
                  static_cast<char>((len >> 8) & 0xffU), static_cast<char>(len & 0xffU)};
  call.request += message;

  const auto authority = target.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", target.host, target.port)
                                                                    : fmt::format("{}:{}", target.host, target.port);
  const auto agent = "devops-info-health/" + core::build_info().version;
  const auto grpc_timeout = fmt::format("{}m", timeout.count());
  const std::array<nghttp2_nv, 8> headers{nv(":method", "POST"),
                                          nv(":scheme", target.tls ? "https" : "http"),
                                          nv(":authority", authority),
                                          nv(":path", "/grpc.health.v1.Health/Check"),
                                          nv("content-type", "application/grpc"),
                                          nv("te", "trailers"),
                                          nv("user-agent", agent),
                                          nv("grpc-timeout", grpc_timeout)};
  nghttp2_data_provider body{};
  body.source.ptr = &call;
  body.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length, std::uint32_t* flags,
                          nghttp2_data_source* src, void*) -> ssize_t {
    auto& c = *static_cast<Call*>(src->ptr);
    const auto n = std::min(length, c.request.size());
    std::copy_n(c.request.data(), n, buf);
    c.request.erase(0, n);
    if (c.request.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  };
  nghttp2_submit_request(raw, nullptr, headers.data(), headers.size(), &body, nullptr);

  std::array<char, 16384> buf{};
  auto not_grpc = [&](std::string why) {
    call.result.error = NetError::Other;
    call.result.problem = std::move(why);
    return call.result;
  };
  std::string pending;  // what nghttp2 has to send, gathered for one write
  while (!call.closed) {
    const std::uint8_t* data = nullptr;
    ssize_t n = 0;
    while ((n = nghttp2_session_mem_send(raw, &data)) > 0) {
      pending.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    if (!pending.empty() && !conn.send_all(pending)) {
      if (conn.error() == NetError::TimedOut) {
        call.result.error = NetError::TimedOut;
        return call.result;
      }
      // The server may have answered and closed before it read all of the
      // call: what it said tells whether it speaks HTTP/2.
      const auto r = ::recv(conn.fd(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (!target.tls && r >= 9 && buf[3] != '\x04') return not_grpc("not an HTTP/2 server (no SETTINGS frame came)");
      call.result.error = NetError::Write;
      return call.result;
    }
    pending.clear();
    if (n < 0) return not_grpc(nghttp2_strerror(static_cast<int>(n)));
    if (nghttp2_session_want_read(raw) == 0) break;
    const auto r = conn.receive(buf.data(), buf.size());
    if (r < 0 && conn.error() == NetError::TimedOut) {
      call.result.error = NetError::TimedOut;
      return call.result;
    }
    if (r <= 0) {
      if (call.closed) break;
      if (!call.settings && call.heard) return not_grpc("not an HTTP/2 server (no SETTINGS frame came)");
      call.result.error = NetError::Read;
      return call.result;
    }
    if (!call.heard && std::string_view(buf.data(), static_cast<std::size_t>(r)).starts_with("HTTP/1.")) {
      return not_grpc("not an HTTP/2 server (it answered in HTTP/1)");
    }
    call.heard = true;
    const auto used =
        nghttp2_session_mem_recv(raw, reinterpret_cast<const std::uint8_t*>(buf.data()), static_cast<std::size_t>(r));
    if (call.too_large) return not_grpc(fmt::format("an answer over {} KiB", kMaxAnswer / 1024));
    if (used < 0) return not_grpc(fmt::format("not an HTTP/2 server ({})", nghttp2_strerror(static_cast<int>(used))));
  }
  if (!call.settings) return not_grpc("not an HTTP/2 server (no SETTINGS frame came)");
  if (!call.closed) return not_grpc("the connection ended before the call");
  if (call.http_status != 200) return not_grpc(fmt::format("HTTP {} instead of a gRPC answer", call.http_status));
  if (call.result.grpc_status < 0) {
    return not_grpc(call.reset != 0 ? fmt::format("the call was reset ({})", nghttp2_http2_strerror(call.reset))
                                    : std::string("no grpc-status in the answer"));
  }
  if (call.body.size() >= 5 && call.body[0] == '\0') {
    call.result.serving = core::decode_health_response(std::string_view(call.body).substr(5)).value_or(-1);
  }
  return call.result;
}

}  // namespace devops::serve
