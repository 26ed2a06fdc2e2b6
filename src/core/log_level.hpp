#pragma once

// The log's level and format, as flags, the config file and `DEBUG` name them.

#include <optional>
#include <string_view>

namespace devops::core {

enum class LogLevel { Debug, Info, Warning, Error };
enum class LogFormat { JsonLines, Text };

// "DEBUG", "INFO", "WARNING", "ERROR".
const char* to_string(LogLevel level);
// debug, info, warning, error (any case).
std::optional<LogLevel> parse_log_level(std::string_view text);
// json, text (any case).
std::optional<LogFormat> parse_log_format(std::string_view text);

}  // namespace devops::core
