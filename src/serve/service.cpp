#include "serve/service.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <typeinfo>

#include "core/build_info.hpp"
#include "core/health.hpp"
#include "core/render.hpp"

namespace devops::serve {

namespace {

constexpr std::string_view kAllowGet = "GET, HEAD";

HttpResponse json_response(int status, const core::Json& doc) {
  return {status, "application/json", core::render_json(doc, core::JsonStyle::Compact), {}};
}

std::string type_name(const std::type_info& t) {
  int rc = 0;
  std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(t.name(), nullptr, nullptr, &rc), &std::free);
  return rc == 0 && name ? std::string(name.get()) : std::string(t.name());
}

}  // namespace

Service::Service(InfoDocument& info, Metrics& metrics, const Logger& logger, Clock::time_point started,
                 core::TestHooks test)
    : info_(info), metrics_(metrics), logger_(logger), started_(started), test_(std::move(test)) {
  // The router is the endpoint table: every published route needs a handler here.
  static constexpr std::pair<std::string_view, Handler> kHandlers[] = {
      {"/", &Service::info},
      {"/health", &Service::health},
      {"/ready", &Service::ready},
      {"/metrics", &Service::metrics},
  };
  for (const auto& e : core::endpoints()) {
    Handler h = nullptr;
    for (const auto& [path, handler] : kHandlers) {
      if (path == e.path) h = handler;
    }
    if (h == nullptr || e.method != "GET") throw std::logic_error("no GET handler for endpoint " + std::string(e.path));
    routes_.push_back({e, h});
    labels_.push_back(e.path);
  }
  if (labels_.size() + 1 > Metrics::kMaxLabels) throw std::logic_error("more routes than metric label slots");
  labels_.push_back(kUnknownEndpoint);
  metrics_route_ = endpoint_index("/metrics");
}

std::size_t Service::endpoint_index(std::string_view path) const {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].endpoint.path == path) return i;
  }
  return routes_.size();
}

void Service::log_failure(std::string_view method, std::string_view path, const std::exception_ptr& ep) const noexcept {
  std::string type = "unknown";
  std::string what = "unknown exception";
  try {
    if (ep) std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    try {
      type = type_name(typeid(e));
      what = e.what();
    } catch (...) {  // out of memory while describing it: keep the defaults
    }
  } catch (...) {
  }
  try {
    logger_.log(core::LogLevel::Error, "request failed",
                {{"error_type", type}, {"error", what}, {"method", method}, {"path", path}});
  } catch (...) {  // logging must never turn a 500 into a crash
  }
}

HttpResponse Service::handle(const HttpRequest& req) noexcept {
  try {
    return dispatch(req);
  } catch (...) {
    log_failure(req.method, req.path, std::current_exception());
  }
  try {
    return error(500, req.path);
  } catch (...) {
    return {500,
            "application/json",
            R"({"error":"Internal Server Error","status":500})"
            "\n",
            {}};
  }
}

HttpResponse Service::dispatch(const HttpRequest& req) {
  if (!test_.fail_path.empty() && req.path == test_.fail_path) {
    throw std::runtime_error("injected failure (--fail-path)");
  }
  const auto i = endpoint_index(req.path);
  if (i == routes_.size()) return error(404, req.path);
  if (req.method != "GET" && req.method != "HEAD") return error(405, req.path);
  auto r = (this->*routes_[i].handler)(req);
  if (!test_.delay_path.empty() && req.path == test_.delay_path) r.delay = core::kTestDelay;
  return r;
}

HttpResponse Service::error(int status, std::string_view path) const {
  core::Json doc{{"error", reason_phrase(status)}, {"status", status}};
  if (!path.empty()) doc["path"] = path;
  if (status == 405) doc["allowed"] = {"GET", "HEAD"};
  auto r = json_response(status, doc);
  if (status == 405) r.allow = kAllowGet;
  return r;
}

HttpResponse Service::info(const HttpRequest& req) {
  const core::RequestInfo request{std::string(req.client_ip), std::string(req.user_agent), std::string(req.method),
                                  std::string(req.path)};
  return {200, "application/json", info_.render(request, Clock::now()), {}};
}

HttpResponse Service::health(const HttpRequest&) {
  const bool down = draining();  // read once: status and body must agree
  const auto h =
      core::make_health(down ? core::HealthStatus::Unhealthy : core::HealthStatus::Healthy, Clock::now(), started_);
  return json_response(down ? 503 : 200, core::health_to_json(h));
}

HttpResponse Service::ready(const HttpRequest&) {
  if (shutting_down_.load(std::memory_order_relaxed)) return json_response(503, {{"status", "draining"}});
  return json_response(200, {{"status", "ready"}});
}

HttpResponse Service::metrics(const HttpRequest&) {
  std::string out;
  out.reserve(4096);
  metrics_.render(out, labels_);
  render_process(out, read_process_stats(started_));
  render_build_info(out, core::build_info());
  return {200, kMetricsContentType, std::move(out), {}};
}

bool Service::started(std::string_view path) {
  if (endpoint_index(path) == metrics_route_) return false;
  metrics_.started();
  return true;
}

void Service::finished(const HttpRequest& req, int status, std::chrono::nanoseconds took, bool counted) {
  const auto endpoint = endpoint_index(req.path);
  if (counted) metrics_.finished();
  if (endpoint != metrics_route_) metrics_.observe(method_index(req.method), endpoint, status, took);
  if (!logger_.enabled(core::LogLevel::Info)) return;
  const double ms = std::chrono::duration<double, std::milli>(took).count();
  logger_.log(core::LogLevel::Info, "request",
              {{"method", req.method},
               {"path", req.path},
               {"status", status},
               {"client_ip", req.client_ip},
               {"user_agent", req.user_agent},
               {"duration_ms", ms}});
}

}  // namespace devops::serve
