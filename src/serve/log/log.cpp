#include "serve/log/log.hpp"

#include <fmt/format.h>

#include "core/fd.hpp"
#include "core/timefmt.hpp"
#include "serve/log/json_text.hpp"
#include "serve/log/log_writer.hpp"

namespace devops::serve {

namespace {

constexpr std::size_t kMaxTextValue = 2048;

void append_json_value(std::string& out, const LogValue& v) {
  switch (v.kind()) {
    case LogValue::Kind::Text: append_json_string(out, clip(v.text(), kMaxTextValue)); break;
    case LogValue::Kind::Int: fmt::format_to(std::back_inserter(out), "{}", v.integer()); break;
    case LogValue::Kind::Real: fmt::format_to(std::back_inserter(out), "{:.3f}", v.real()); break;
    case LogValue::Kind::Bool: out += v.flag() ? "true" : "false"; break;
  }
}

// Bare when it is a plain word, JSON-quoted otherwise (spaces, quotes, '=',
// control characters, non-ASCII, empty).
void append_text_value(std::string& out, const LogValue& v) {
  if (v.kind() != LogValue::Kind::Text) return append_json_value(out, v);
  const auto s = clip(v.text(), kMaxTextValue);
  bool plain = !s.empty();
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '"' || c == '=' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += s;
  } else {
    append_json_string(out, s);
  }
}

}  // namespace

std::string format_log_line(core::LogFormat format, std::chrono::system_clock::time_point when, core::LogLevel level,
                            std::string_view msg, std::span<const LogField> fields) {
  std::string out;
  out.reserve(256);
  const std::string ts = core::iso8601_utc(when);
  if (format == core::LogFormat::JsonLines) {
    out += R"({"timestamp":")";
    out += ts;
    out += R"(","level":")";
    out += core::to_string(level);
    out += R"(","msg":)";
    append_json_string(out, msg);
    for (const auto& f : fields) {
      out += ',';
      append_json_string(out, f.key);
      out += ':';
      append_json_value(out, f.value);
    }
    out += "}\n";
  } else {
    fmt::format_to(std::back_inserter(out), "{} {:<7} {}", ts, core::to_string(level), msg);
    for (const auto& f : fields) {
      out += ' ';
      out += f.key;
      out += '=';
      append_text_value(out, f.value);
    }
    out += '\n';
  }
  return out;
}

Logger::Logger(core::LogFormat format, core::LogLevel min_level, int fd, LogWriter* writer)
    : format_(format), min_level_(min_level), fd_(fd), writer_(writer) {}

void Logger::log(core::LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) const {
  log(level, msg, std::span<const LogField>(fields.begin(), fields.size()));
}

void Logger::log(core::LogLevel level, std::string_view msg, std::span<const LogField> fields) const {
  if (!enabled(level)) return;
  const std::string line = format_log_line(format(), std::chrono::system_clock::now(), level, msg, fields);
  if (writer_ != nullptr) {
    writer_->push(line);
    return;
  }
  // A short write (a full pipe, a signal) resumes where it stopped; a closed
  // stdout is ignored: logging must never stop the service.
  (void)core::write_all(fd_, line);
}

}  // namespace devops::serve
