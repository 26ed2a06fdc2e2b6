#pragma once

// Inside the HTTP/2 protocol (http2_protocol.cpp: the session and the
// requests; http2_answer.cpp: the answers): one stream's state, and the
// helpers both files use.

#include <nghttp2/nghttp2.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "serve/http/kept_body.hpp"
#include "serve/http2/http2_protocol.hpp"

namespace devops::serve {

// A header field for nghttp2, which copies both (the names are lower-case already).
inline nghttp2_nv field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// Calls left open (gRPC Watch) in the whole process: every connection's
// streams count here, against HttpLimits::max_watches.
std::atomic<std::size_t>& open_watches();

struct Http2Protocol::Stream {
  Stream() = default;
  ~Stream() {
    if (counted) open_watches().fetch_sub(1, std::memory_order_relaxed);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  std::int32_t id{0};
  SteadyClock::time_point started{};
  // The request, as received (owned: a held answer outlives the input).
  std::string method, target, path, user_agent, accept, content_type, grpc_encoding, body;
  std::string forwarded_for, forwarded;  // X-Forwarded-For and Forwarded, joined
  std::string traceparent, tracestate;
  bool path_ok{false};  // `path` is `target` decoded
  // Every regular field, and the body up to body_limit, for a route that
  // asked for them (HttpService::needs).
  bool want_fields{false};
  std::optional<std::uint64_t> body_limit;
  KeptBody kept;
  std::vector<std::pair<std::string, std::string>> kept_fields;
  std::vector<HeaderField> field_views;
  std::size_t head_bytes{0};
  std::size_t fields{0};
  std::uint64_t body_bytes{0};
  int refused{0};  // 431, 413: answered so once complete
  bool dispatched{false};
  bool remote_done{false};  // the client's END_STREAM arrived
  bool reset_after{false};  // RST_STREAM NO_ERROR once the answer is sent
  // The answer.
  Exchange exchange;
  bool grpc{false};
  bool held{false};
  SteadyClock::time_point release{};
  HttpResponse held_response;
  std::string out;  // DATA not yet taken by nghttp2
  std::size_t out_pos{0};
  bool sending{false};   // a data provider is attached and has not reached its end
  bool watching{false};  // open for follow()
  bool counted{false};   // in open_watches()
  bool ending{false};    // the trailers follow what is in `out`
  GrpcEnd end;           // ... with this status
  std::string last_message;

  HttpRequest request(std::string_view peer) const {
    HttpRequest r{method, path, peer, user_agent, {}, accept};
    const auto q = std::string_view(target).find('?');
    if (q != std::string_view::npos) r.query = std::string_view(target).substr(q + 1);
    r.protocol = "HTTP/2";
    r.content_type = content_type;
    r.grpc = grpc;
    r.fields = field_views;
    r.forwarded_for = forwarded_for;
    r.forwarded = forwarded;
    r.traceparent = traceparent;
    r.tracestate = tracestate;
    r.body = kept.view();
    return r;
  }
};

// A stream's DATA for nghttp2: what its `out` holds; then the end of the
// stream, its trailers, or (a Watch with nothing new) a pause until resumed.
ssize_t read_answer_data(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                         std::uint32_t* flags, nghttp2_data_source* src, void* user_data);

}  // namespace devops::serve
