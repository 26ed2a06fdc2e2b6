#pragma once

// `devops-info serve`: the HTTP service on the core documents.

#include <optional>
#include <string>

#include "core/serve_config.hpp"
#include "serve/process/live_config.hpp"

namespace devops::serve {

struct RunResult {
  int exit_code{};
  std::string error;  // why it failed, for stderr; empty on success
};

// Listens, serves until SIGTERM or SIGINT (or SIGHUP without a config file),
// drains, returns. Exit code 0 after a clean drain; 1 when the port cannot be
// bound, the listener fails, the drain was cut short by --shutdown-timeout
// or a second signal, or the last visit count could not be written. With
// `config_file`, its changes and SIGHUP reload it.
RunResult run(const core::ServeConfig& config, std::optional<ConfigSource> config_file = std::nullopt);

}  // namespace devops::serve
