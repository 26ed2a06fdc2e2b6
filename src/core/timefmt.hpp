#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace devops::core {

enum class Precision { Seconds, Microseconds };

// "2026-11-28T02:38:45.123456+00:00", the form Python's isoformat() gives
// for an aware UTC datetime (the Flask service's current_time).
std::string iso8601_utc(std::chrono::system_clock::time_point t, Precision p = Precision::Microseconds);
// The same, appended to `out`, by arithmetic alone (no gmtime, no format
// string): for the answers built on every request.
void append_iso8601_utc(std::string& out, std::chrono::system_clock::time_point t,
                        Precision p = Precision::Microseconds);

// Whole seconds from `from` to `to`; 0 when the clock went backwards.
std::int64_t elapsed_seconds(std::chrono::system_clock::time_point from, std::chrono::system_clock::time_point to);

// "{hours} hours, {minutes} minutes", as the Flask service writes it: "50 hours, 3 minutes", "1 hours, 1 minutes".
std::string humanize_uptime(std::int64_t seconds);

// "64.0 MiB", "1.5 GiB", "512 B" (binary units).
std::string human_bytes(std::uint64_t bytes);

}  // namespace devops::core
