#include "core/health.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <iterator>

#include "core/timefmt.hpp"

namespace devops::core {

const char* to_string(HealthStatus s) {
  return s == HealthStatus::Healthy ? "healthy" : "unhealthy";
}

Health make_health(HealthStatus status, std::chrono::system_clock::time_point now,
                   std::chrono::system_clock::time_point started) {
  return {status, iso8601_utc(now), elapsed_seconds(started, now)};
}

void append_health_json(std::string& out, HealthStatus status, std::chrono::system_clock::time_point now,
                        std::chrono::system_clock::time_point started) {
  out += R"({"status":")";
  out += to_string(status);
  out += R"(","timestamp":")";
  append_iso8601_utc(out, now);
  out += R"(","uptime_seconds":)";
  fmt::format_to(std::back_inserter(out), FMT_COMPILE("{}"), elapsed_seconds(started, now));
  out += "}\n";
}

nlohmann::ordered_json health_to_json(const Health& h) {
  return {{"status", to_string(h.status)}, {"timestamp", h.timestamp}, {"uptime_seconds", h.uptime_seconds}};
}

std::string health_to_table(const Health& h) {
  return fmt::format("status          {}\ntimestamp       {}\nuptime_seconds  {}\n", to_string(h.status), h.timestamp,
                     h.uptime_seconds);
}

std::optional<Health> health_from_json(const nlohmann::ordered_json& doc) {
  if (!doc.is_object()) return std::nullopt;
  const auto status = doc.find("status");
  const auto timestamp = doc.find("timestamp");
  const auto uptime = doc.find("uptime_seconds");
  if (status == doc.end() || timestamp == doc.end() || uptime == doc.end()) return std::nullopt;
  if (!status->is_string() || !timestamp->is_string() || !uptime->is_number_integer()) return std::nullopt;
  Health h;
  const auto& s = status->get_ref<const std::string&>();
  if (s == "healthy") {
    h.status = HealthStatus::Healthy;
  } else if (s == "unhealthy") {
    h.status = HealthStatus::Unhealthy;
  } else {
    return std::nullopt;
  }
  h.timestamp = timestamp->get<std::string>();
  h.uptime_seconds = uptime->get<std::int64_t>();
  return h;
}

}  // namespace devops::core
