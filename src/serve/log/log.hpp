#pragma once

// Structured logs: one line per event on stdout, JSON for machines or
// key=value text for a terminal. Lines are written whole (one write(2) each,
// or whole lines at a time through a LogWriter), so they never interleave.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "core/log_level.hpp"

namespace devops::serve {

// A field's value: text, a whole number, a fraction or a flag.
class LogValue {
 public:
  enum class Kind { Text, Int, Real, Bool };
  LogValue(std::string_view v) : kind_(Kind::Text), text_(v) {}  // NOLINT: implicit by design
  LogValue(const char* v) : kind_(Kind::Text), text_(v) {}       // NOLINT
  LogValue(const std::string& v) : kind_(Kind::Text), text_(v) {}
  LogValue(std::int64_t v) : kind_(Kind::Int), int_(v) {}  // NOLINT
  LogValue(int v) : kind_(Kind::Int), int_(v) {}           // NOLINT
  LogValue(std::size_t v) : kind_(Kind::Int), int_(static_cast<std::int64_t>(v)) {}
  LogValue(double v) : kind_(Kind::Real), real_(v) {}  // NOLINT
  LogValue(bool v) : kind_(Kind::Bool), bool_(v) {}    // NOLINT

  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }
  std::int64_t integer() const { return int_; }
  double real() const { return real_; }
  bool flag() const { return bool_; }

 private:
  Kind kind_;
  std::string_view text_;
  std::int64_t int_{};
  double real_{};
  bool bool_{};
};

struct LogField {
  std::string_view key;
  LogValue value;
};

// One complete line, newline included. Text values longer than 2 KiB are cut,
// so that a line stays below the size a pipe writes atomically.
std::string format_log_line(core::LogFormat format, std::chrono::system_clock::time_point when, core::LogLevel level,
                            std::string_view msg, std::span<const LogField> fields);

class LogWriter;

class Logger {
 public:
  // Lines go to `writer` when one is given, else straight to `fd`.
  Logger(core::LogFormat format, core::LogLevel min_level, int fd, LogWriter* writer = nullptr);

  bool enabled(core::LogLevel level) const { return level >= min_level_.load(std::memory_order_relaxed); }
  void log(core::LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {}) const;
  void log(core::LogLevel level, std::string_view msg, std::span<const LogField> fields) const;

  // A reloaded config file's level and format, from any thread; lines being
  // written keep the ones they started with.
  void set_level(core::LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }
  void set_format(core::LogFormat format) { format_.store(format, std::memory_order_relaxed); }
  core::LogLevel level() const { return min_level_.load(std::memory_order_relaxed); }
  core::LogFormat format() const { return format_.load(std::memory_order_relaxed); }

 private:
  std::atomic<core::LogFormat> format_;
  std::atomic<core::LogLevel> min_level_;
  int fd_;
  LogWriter* writer_;
};

}  // namespace devops::serve
