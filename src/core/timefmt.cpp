#include "core/timefmt.hpp"

#include <fmt/format.h>

#include <array>
#include <ctime>

namespace devops::core {

std::string iso8601_utc(std::chrono::system_clock::time_point t, Precision p) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto micros = duration_cast<microseconds>(t - secs).count();
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (p == Precision::Microseconds) out += fmt::format(".{:06}", micros);
  out += "+00:00";
  return out;
}

std::int64_t elapsed_seconds(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(to - from).count();
  return s < 0 ? 0 : s;
}

std::string humanize_uptime(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  // The Flask service's format, exactly: hours are not split into days and
  // the units are always plural ("1 hours, 1 minutes").
  return fmt::format("{} hours, {} minutes", seconds / 3600, seconds % 3600 / 60);
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr std::array kUnits{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  auto value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < kUnits.size()) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace devops::core
