#pragma once

// `devops-info serve`: the HTTP service on the core documents.

#include <string>

#include "core/config.hpp"

namespace devops::serve {

struct RunResult {
  int exit_code{};
  std::string error;  // why it failed, for stderr; empty on success
};

// Listens, serves until SIGTERM or SIGINT, drains, returns. Exit code 0 after
// a clean drain; 1 when the port cannot be bound, the listener fails, or the
// drain was cut short by --shutdown-timeout or a second signal.
RunResult run(const core::ServeConfig& config);

}  // namespace devops::serve
