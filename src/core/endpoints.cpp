#include "core/endpoints.hpp"

#include <array>

namespace devops::core {

namespace {
constexpr std::array kEndpoints{
    Endpoint{"/", "GET", "Service information"},
    Endpoint{"/health", "GET", "Health check"},
    Endpoint{"/ready", "GET", "Readiness check"},
    Endpoint{"/metrics", "GET", "Prometheus metrics"},
    Endpoint{"/visits", "GET", "Visit count of / (with a data directory)"},
    // The Kubernetes API server's own names for the same two checks (last,
    // so that the indexes of `info --format env` stay as they were).
    Endpoint{"/livez", "GET", "Health check (as /health)"},
    Endpoint{"/readyz", "GET", "Readiness check (as /ready)"},
};
}  // namespace

std::span<const Endpoint> endpoints() {
  return kEndpoints;
}

}  // namespace devops::core
