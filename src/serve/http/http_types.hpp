#pragma once

// A request as the Service sees it and the answer it gives, free of any HTTP
// library: the transport fills the one and writes the other.

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace devops::serve {

class Deferred;

// One header field as received.
struct HeaderField {
  std::string_view name;
  std::string_view value;
};

struct HttpRequest {
  std::string_view method;
  std::string_view path;  // without the query
  std::string_view client_ip;
  std::string_view user_agent;
  std::string_view query{};               // after '?', as sent; empty when none
  std::string_view accept{};              // the Accept fields, joined; empty when absent
  std::string_view protocol{"HTTP/1.1"};  // "HTTP/1.0", "HTTP/1.1" or "HTTP/2", for the log line
  std::string_view content_type{};        // HTTP/2: the Content-Type, for gRPC
  // A gRPC call's one message, unframed; the body of a request whose route
  // asked for it (HttpService::needs). Otherwise empty: bodies are read and
  // dropped.
  std::string_view body{};
  bool grpc{false};  // HTTP/2 with Content-Type application/grpc[+proto]: a gRPC call
  // Every header field, in order, for a request whose route asked for them
  // (HttpService::needs; HTTP/2: the lower-case names, without the
  // pseudo-headers); empty otherwise.
  std::span<const HeaderField> fields{};
  // X-Forwarded-For and Forwarded, each joined with ", "; believed only from
  // a trusted proxy (--trusted-proxies).
  std::string_view forwarded_for{};
  std::string_view forwarded{};
  // W3C trace context, as received: the first traceparent ("-" when it came
  // more than once, which makes it invalid), the tracestate fields joined.
  std::string_view traceparent{};
  std::string_view tracestate{};
};

// What a gRPC call ends with (HTTP/2 only): a status and its message, sent
// as trailers (grpc-status, grpc-message) after the answer's one message, or
// alone ("trailers-only") when there is none.
struct GrpcEnd {
  int status{0};  // 0 OK, 5 NOT_FOUND, 13 INTERNAL, 14 UNAVAILABLE, ...
  std::string message{};
};

struct HttpResponse {
  int status{200};
  std::string_view content_type{"application/json"};
  std::string body;
  std::string_view allow;  // set on 405
  // Hold the answer this long before it is sent. The transport waits on a
  // timer, never by blocking a thread.
  std::chrono::milliseconds delay{0};
  std::string headers{};  // more header lines, each ending in CRLF (Vary, Content-Security-Policy)
  // gRPC: `body` is the one message (unframed; empty with no message) and
  // this the status that ends the call.
  GrpcEnd grpc{};
  // gRPC server streaming: the call stays open after `body`; the protocol
  // asks HttpService::follow() for what it says next whenever
  // HttpService::changes() moves.
  bool open_stream{false};
  // The answer comes later (deferred.hpp): this one is held, up to `delay`,
  // and sent only if the deferred one is not ready by then.
  std::shared_ptr<Deferred> deferred{};
};

// Keeps a traceparent field: the first one; a second makes it "-", which no
// parser takes (W3C Trace Context: a field sent twice is invalid).
inline void keep_traceparent(std::string& to, std::string_view value) {
  if (to.empty()) {
    to.assign(value);
  } else {
    to.assign("-");
  }
}
// Keeps a tracestate field: several are one list, joined with ",".
inline void keep_tracestate(std::string& to, std::string_view value) {
  if (to.size() > 1024) return;  // more than anyone propagates (512 at least): the rest is not kept
  if (!to.empty()) to.push_back(',');
  to.append(value);
}

// "OK", "Not Found", ...: the reason phrase of a status code.
std::string_view reason_phrase(int status);

// "/a%20b?x=1" -> "/a b"; false for a bad escape, a NUL, or a target that is
// neither a path, "*" nor an absolute URL.
bool decode_target_path(std::string_view target, std::string& path);

}  // namespace devops::serve
