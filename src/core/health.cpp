#include "core/health.hpp"

#include <fmt/format.h>

#include "core/timefmt.hpp"

namespace devops::core {

const char* to_string(HealthStatus s) {
  return s == HealthStatus::Healthy ? "healthy" : "unhealthy";
}

Health make_health(HealthStatus status, std::chrono::system_clock::time_point now,
                   std::chrono::system_clock::time_point started) {
  auto up = std::chrono::duration_cast<std::chrono::seconds>(now - started).count();
  return {status, iso8601_utc(now), up < 0 ? 0 : up};
}

nlohmann::ordered_json health_to_json(const Health& h) {
  return {{"status", to_string(h.status)}, {"timestamp", h.timestamp}, {"uptime_seconds", h.uptime_seconds}};
}

std::string health_to_table(const Health& h) {
  return fmt::format("status          {}\ntimestamp       {}\nuptime_seconds  {}\n", to_string(h.status), h.timestamp,
                     h.uptime_seconds);
}

}  // namespace devops::core
