#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace devops::core {

enum class HealthStatus { Healthy, Unhealthy };

// The document `health` prints and `GET /health` serves.
struct Health {
  HealthStatus status{HealthStatus::Healthy};
  std::string timestamp;  // ISO 8601, UTC
  std::int64_t uptime_seconds{};
};

Health make_health(HealthStatus status, std::chrono::system_clock::time_point now,
                   std::chrono::system_clock::time_point started);

// {"status": "healthy", "timestamp": ..., "uptime_seconds": ...}
nlohmann::ordered_json health_to_json(const Health& h);
// make_health's document as compact JSON, byte for byte what
// render_json(health_to_json(...), JsonStyle::Compact) gives (its newline
// too), written
// straight into `out`: GET /health builds it on every request.
void append_health_json(std::string& out, HealthStatus status, std::chrono::system_clock::time_point now,
                        std::chrono::system_clock::time_point started);
// Aligned "key  value" lines.
std::string health_to_table(const Health& h);
// The document back from JSON (what a probe received); nullopt when `doc`
// lacks a field or has one of the wrong type.
std::optional<Health> health_from_json(const nlohmann::ordered_json& doc);

const char* to_string(HealthStatus s);

}  // namespace devops::core
