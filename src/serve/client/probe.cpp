// The HTTP/1.1 client of the health probe and the span exporter: one request
// on a ClientSocket, the answer read by the bounded ResponseReader.
#include "serve/client/probe.hpp"

#include <array>
#include <csignal>

#include <fmt/format.h>

#include "core/build_info.hpp"
#include "serve/client/client_socket.hpp"
#include "serve/http1/response_reader.hpp"

namespace devops::serve {

ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout, const TlsClientOptions& tls) {
  return http_request(target, HttpCall{}, timeout, tls);
}

ProbeResult http_request(const core::HttpTarget& target, const HttpCall& call, std::chrono::milliseconds timeout,
                         const TlsClientOptions& tls) {
  // A server that hangs up before reading the request is an error to report, not a death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  ProbeResult out;
  ClientSocket conn(target, ClientSocket::Clock::now() + timeout);
  if (!conn.valid()) {
    out.error = conn.error();
    return out;
  }
  if (target.tls && !conn.start_tls(tls, target.host, std::string_view("\x08http/1.1", 9))) {
    out.error = conn.error();
    out.problem = conn.problem();
    return out;
  }
  // Host: the port only when it is not HTTP's own (as curl writes it).
  const auto host = target.host.find(':') != std::string::npos ? fmt::format("[{}]", target.host) : target.host;
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: {}{}\r\nUser-Agent: {}\r\nAccept: application/json\r\nConnection: close\r\n",
                  call.method, target.path, host,
                  target.port == (target.tls ? 443 : 80) ? std::string() : fmt::format(":{}", target.port),
                  call.user_agent.empty() ? fmt::format("devops-info-health/{}", core::build_info().version)
                                          : std::string(call.user_agent));
  if (call.method != "GET") {
    if (!call.content_type.empty()) request += fmt::format("Content-Type: {}\r\n", call.content_type);
    request += fmt::format("Content-Length: {}\r\n", call.body.size());
  }
  request += call.headers;
  request += "\r\n";
  request += call.body;
  // Sending may fail while the answer is already there (a server that
  // answers and closes before reading): read it all the same.
  const bool sent = conn.send_all(request);
  const auto send_error = conn.error();

  ResponseReader reader(call.max_body);
  auto progress = ResponseReader::Progress::More;
  std::array<char, 16384> buf{};
  while (progress == ResponseReader::Progress::More) {
    const auto n = conn.receive(buf.data(), buf.size());
    if (n < 0) {
      out.error = !sent && conn.error() == NetError::Read ? send_error : conn.error();
      return out;
    }
    progress = n == 0 ? reader.finish() : reader.feed({buf.data(), static_cast<std::size_t>(n)});
  }
  if (progress == ResponseReader::Progress::Bad) {
    out.error = sent ? NetError::Read : send_error;
    out.problem = reader.why();
    return out;
  }
  out.status = reader.status();
  out.content_type = reader.content_type();
  out.location = reader.location();
  if (progress == ResponseReader::Progress::TooLarge) {
    out.body_too_large = true;
    return out;
  }
  out.body = reader.body();
  return out;
}

}  // namespace devops::serve
