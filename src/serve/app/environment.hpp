#pragma once

// GET /env: the process's environment variables that an allow-list of
// shell globs admits (--env-allow), a secret-looking name's value redacted
// as the config file's are. The selection is a pure function, tested on
// its own; the environment is read once, at start.

#include <string>
#include <utility>
#include <vector>

#include "core/config_file.hpp"

namespace devops::serve {

using Environment = std::vector<std::pair<std::string, std::string>>;

// This process's environment, as it is now (NAME=VALUE pairs of environ).
Environment process_environment();

// {"variables": {NAME: value, ...}, "allowed": [patterns]}: the variables
// whose names match one of `patterns` (fnmatch), by name; a name that looks
// like a secret (core::looks_secret) shows "<redacted>" whatever allows it.
core::Json select_environment(const Environment& env, const std::vector<std::string>& patterns);

}  // namespace devops::serve
