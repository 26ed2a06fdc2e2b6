#include "core/config_values.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <netinet/in.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

namespace devops::core {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

ConfigError invalid_value(std::string_view name, std::string_view value, std::string_view expected) {
  return {fmt::format("{}: '{}' is not {}", name, value, expected)};
}

std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || p != text.data() + text.size() || port < 0 || port > 65535) return std::nullopt;
  return port;
}

std::optional<std::string> parse_host(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1) return s;
  if (::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) return s;
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  for (const char* t : {"true", "1", "yes", "on"}) {
    if (iequals(text, t)) return true;
  }
  for (const char* f : {"false", "0", "no", "off", ""}) {
    if (iequals(text, f)) return false;
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto unit_at = text.find_first_not_of("0123456789.");
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = unit_at == std::string_view::npos ? std::string_view() : text.substr(unit_at);
  if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
  double value = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || p != number.data() + number.size()) return std::nullopt;
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double ms = std::round(value * scale);
  if (!std::isfinite(ms) || ms < 0 || ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::variant<std::chrono::milliseconds, ConfigError> parse_duration_option(std::string_view name,
                                                                           std::string_view text) {
  if (auto d = parse_duration(text)) return *d;
  return invalid_value(name, text, "a duration (e.g. 10s, 500ms, 2m)");
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  const auto unit_at = text.find_first_not_of("0123456789");
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = unit_at == std::string_view::npos ? std::string_view() : text.substr(unit_at);
  if (number.empty() || number.size() > 12) return std::nullopt;
  std::uint64_t value = 0;
  std::from_chars(number.data(), number.data() + number.size(), value);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB" || unit == "Ki") {
    scale = 1024;
  } else if (unit == "MiB" || unit == "Mi") {
    scale = std::uint64_t{1024} * 1024;
  } else if (unit == "GiB" || unit == "Gi") {
    scale = std::uint64_t{1024} * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  return value * scale;  // at most 12 digits times 2^30: no overflow
}

std::string format_size(std::uint64_t bytes) {
  constexpr std::uint64_t kKi = 1024;
  if (bytes != 0 && bytes % (kKi * kKi * kKi) == 0) return fmt::format("{}GiB", bytes / (kKi * kKi * kKi));
  if (bytes != 0 && bytes % (kKi * kKi) == 0) return fmt::format("{}MiB", bytes / (kKi * kKi));
  if (bytes != 0 && bytes % kKi == 0) return fmt::format("{}KiB", bytes / kKi);
  return fmt::format("{}B", bytes);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string frac = fmt::format("{:03}", ms % 1000);
  while (frac.back() == '0') frac.pop_back();
  return fmt::format("{}.{}s", ms / 1000, frac);
}

}  // namespace devops::core
