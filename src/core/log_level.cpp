#include "core/log_level.hpp"

#include "core/config_values.hpp"

namespace devops::core {

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Info: return "INFO";
    case LogLevel::Warning: return "WARNING";
    case LogLevel::Error: return "ERROR";
  }
  return "INFO";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (const auto l : {LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error}) {
    if (iequals(text, to_string(l))) return l;
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (iequals(text, "json")) return LogFormat::JsonLines;
  if (iequals(text, "text")) return LogFormat::Text;
  return std::nullopt;
}

}  // namespace devops::core
