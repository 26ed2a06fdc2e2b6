#pragma once

// The config file of `serve` and `info`: --config FILE, else CONFIG_FILE.

#include <optional>
#include <string>
#include <variant>

#include "core/config_file.hpp"
#include "core/config_values.hpp"

namespace devops::cli {

// The flag's path when given, else CONFIG_FILE's (empty counts as unset).
std::optional<std::string> config_path(const std::optional<std::string>& flag);

struct LoadedFile {
  core::ConfigFile file;
  std::string text;
};
// Reads, parses and checks the file (core::check_settings); the error names
// the file and, for its content, the line, the column and the key.
std::variant<LoadedFile, core::ConfigError> load_config_file(const std::string& path);

}  // namespace devops::cli
