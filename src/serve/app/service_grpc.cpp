// gRPC health (grpc.health.v1) in the Service: what each service name
// follows, Check, Watch, and what an open Watch says when asked again.
#include "core/grpc_health.hpp"
#include "serve/app/service.hpp"

namespace devops::serve {

namespace {

// gRPC status codes (grpc/doc/statuscodes.md) the service answers with.
constexpr int kGrpcNotFound = 5;
constexpr int kGrpcInternal = 13;
constexpr int kGrpcUnavailable = 14;

}  // namespace

core::ServingStatus Service::serving(std::string_view service) const {
  const bool live = healthy() && !draining();
  const bool ready_now = ready() && !shutting_down_.load(std::memory_order_relaxed);
  bool up = false;
  if (service.empty()) {
    up = live && ready_now;
  } else if (service == "liveness") {
    up = live;
  } else if (service == "readiness") {
    up = ready_now;
  } else {
    return core::ServingStatus::ServiceUnknown;
  }
  return up ? core::ServingStatus::Serving : core::ServingStatus::NotServing;
}

namespace {
// The answer to a request whose message is not a HealthCheckRequest.
HttpResponse malformed_health_request() {
  HttpResponse r;
  r.grpc = {kGrpcInternal, "malformed HealthCheckRequest"};
  return r;
}
}  // namespace

HttpResponse Service::grpc_check(const HttpRequest& req) {
  const auto service = core::parse_health_request(req.body);
  if (!service) return malformed_health_request();
  HttpResponse r;
  const auto status = serving(*service);
  if (status == core::ServingStatus::ServiceUnknown) {
    r.grpc = {kGrpcNotFound, "unknown service \"" + *service + "\": try \"\", liveness or readiness"};
    return r;
  }
  r.body = core::encode_health_response(status);
  return r;
}

HttpResponse Service::grpc_watch(const HttpRequest& req) {
  return core::parse_health_request(req.body) ? follow(req) : malformed_health_request();
}

HttpResponse Service::follow(const HttpRequest& req) noexcept {
  HttpResponse r;
  try {
    const auto service = core::parse_health_request(req.body).value_or(std::string());
    // An unknown name stays open with SERVICE_UNKNOWN: it may be registered later (health.proto).
    r.body = core::encode_health_response(serving(service));
    if (draining()) {
      // The last word, and the end: no Watch holds the shutdown, and
      // UNAVAILABLE tells the client to look elsewhere.
      r.body = core::encode_health_response(core::ServingStatus::NotServing);
      r.grpc = {kGrpcUnavailable, "the server is shutting down"};
    } else {
      r.open_stream = true;
    }
  } catch (...) {  // out of memory: end the call
    r.open_stream = false;
    r.grpc.status = kGrpcInternal;
  }
  return r;
}

}  // namespace devops::serve
