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
};
}  // namespace

std::span<const Endpoint> endpoints() {
  return kEndpoints;
}

}  // namespace devops::core
