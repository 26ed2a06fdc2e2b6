#pragma once

// One HTTP GET, for `devops-info health --url`, bounded in time and size
// whatever the server does.

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

// GET target.path from target.host:target.port. `timeout` bounds the whole
// attempt: connecting, sending, the headers and the body; a server that
// drips its answer is cut off at the deadline (NetError::TimedOut).
// `tls`: for https://.
ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout,
                     const TlsClientOptions& tls = {});

}  // namespace devops::serve
