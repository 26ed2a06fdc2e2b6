#pragma once

// One HTTP GET, for `devops-info health --url`.

#include <chrono>
#include <string>

#include "core/config.hpp"
#include "serve/net_error.hpp"

namespace devops::serve {

struct ProbeResult {
  NetError error{NetError::None};  // None: an answer arrived (any status)
  int status{};
  std::string content_type;
  std::string body;
};

// GET target.path from target.host:target.port; `timeout` bounds the connect
// and each read and write.
ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout);

}  // namespace devops::serve
