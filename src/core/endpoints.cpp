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
    // gRPC health (grpc.health.v1), over HTTP/2 only; services "" (both),
    // "liveness" (as /health) and "readiness" (as /ready).
    Endpoint{"/grpc.health.v1.Health/Check", "POST", "gRPC health check (HTTP/2): \"\", liveness, readiness"},
    Endpoint{"/grpc.health.v1.Health/Watch", "POST", "gRPC health watch (HTTP/2): the status, then each change"},
    // On demand, from the URL alone (an ingress annotation takes only a URL);
    // --introspection off turns them off. A {name} is one path segment.
    Endpoint{"/status/{code}", "GET", "Answers with that status (200 to 599)"},
    Endpoint{"/delay/{duration}", "GET", "Answers after that long (250ms, 2s; at most --max-delay)"},
    Endpoint{"/env", "GET", "Environment variables that --env-allow admits, secrets redacted"},
    Endpoint{"/headers", "GET", "The request's header fields, as received"},
    Endpoint{"/echo", "POST, PUT", "The request itself: method, path, query, headers, body (at most --max-body)"},
    // Calls every upstream (--upstream) at once and nests their answers.
    Endpoint{"/upstreams", "GET", "Calls each upstream (--upstream) and nests its answer"},
};
}  // namespace

std::span<const Endpoint> endpoints() {
  return kEndpoints;
}

}  // namespace devops::core
