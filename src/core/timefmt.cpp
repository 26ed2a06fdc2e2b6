#include "core/timefmt.hpp"

#include <fmt/format.h>

#include <array>

namespace devops::core {

std::string iso8601_utc(std::chrono::system_clock::time_point t, Precision p) {
  std::string out;
  append_iso8601_utc(out, t, p);
  return out;
}

namespace {

// `width` decimal digits of `v` (0 <= v < 10^width), zero-padded.
char* put_digits(char* at, std::int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return at + width;
}

}  // namespace

void append_iso8601_utc(std::string& out, std::chrono::system_clock::time_point t, Precision p) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> hms{duration_cast<microseconds>(t - day)};
  // system_clock counts 64-bit nanoseconds: its years (1677 to 2262) always
  // take four digits.
  const int y = static_cast<int>(ymd.year());
  char buf[32];
  char* at = put_digits(buf, y, 4);
  *at++ = '-';
  at = put_digits(at, static_cast<unsigned>(ymd.month()), 2);
  *at++ = '-';
  at = put_digits(at, static_cast<unsigned>(ymd.day()), 2);
  *at++ = 'T';
  at = put_digits(at, hms.hours().count(), 2);
  *at++ = ':';
  at = put_digits(at, hms.minutes().count(), 2);
  *at++ = ':';
  at = put_digits(at, hms.seconds().count(), 2);
  if (p == Precision::Microseconds) {
    *at++ = '.';
    at = put_digits(at, hms.subseconds().count(), 6);
  }
  out.append(buf, at);
  out += "+00:00";
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
