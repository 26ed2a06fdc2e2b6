#pragma once

// One HTTP request, for `devops-info health --url` (a GET) and the span
// exporter (a POST of OTLP/JSON), bounded in time and size whatever the
// server does.

#include <chrono>
#include <cstddef>
#include <string>

#include "core/probe_url.hpp"
#include "serve/client/client_socket.hpp"
#include "serve/net/net_error.hpp"

namespace devops::serve {

// A health document is a few hundred bytes; more is refused.
inline constexpr std::size_t kMaxProbeBody = std::size_t{64} * 1024;

struct ProbeResult {
  NetError error{NetError::None};  // None: an answer arrived (any status)
  int status{};
  std::string content_type;
  std::string location;  // of a redirect
  std::string body;
  bool body_too_large{false};  // the body passed kMaxProbeBody: cut off, not read
  std::string problem;         // with NetError::Read or Tls: what was wrong
};

// What to send besides the target.
struct HttpCall {
  std::string_view method{"GET"};
  std::string_view body;          // sent with Content-Length when the method is not GET
  std::string_view content_type;  // of the body
  std::string_view user_agent;    // empty: devops-info-health/VERSION
  std::string_view headers;       // more fields, each "Name: value\r\n"
  std::size_t max_body{kMaxProbeBody};
};

// GET target.path from target.host:target.port. `timeout` bounds the whole
// attempt: connecting, sending, the headers and the body; a server that
// drips its answer is cut off at the deadline (NetError::TimedOut).
// `tls`: for https://.
ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout,
                     const TlsClientOptions& tls = {});
// The same for any call.
ProbeResult http_request(const core::HttpTarget& target, const HttpCall& call, std::chrono::milliseconds timeout,
                         const TlsClientOptions& tls = {});

}  // namespace devops::serve
