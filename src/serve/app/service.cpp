#include "serve/app/service.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <typeinfo>

#include <fmt/format.h>

#include "core/build_info.hpp"
#include "core/config_values.hpp"
#include "core/health.hpp"
#include "core/render.hpp"
#include "core/timefmt.hpp"
#include "serve/app/negotiation.hpp"

namespace devops::serve {

namespace {

constexpr std::string_view kAllowGet = "GET, HEAD";
constexpr std::string_view kHtmlContentType = "text/html; charset=utf-8";
// The gRPC status of a call whose handler failed (grpc/doc/statuscodes.md).
constexpr int kGrpcInternal = 13;

HttpResponse json_response(int status, const core::Json& doc) {
  return {status, "application/json", core::render_json(doc, core::JsonStyle::Compact), {}};
}

std::string type_name(const std::type_info& t) {
  int rc = 0;
  std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(t.name(), nullptr, nullptr, &rc), &std::free);
  return rc == 0 && name ? std::string(name.get()) : std::string(t.name());
}

// A uniform number in [0, 1) from this thread's own generator (no lock).
double uniform01() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(gen);
}

}  // namespace

Service::Service(InfoDocument& info, Metrics& metrics, const Logger& logger, Clock::time_point started,
                 core::Switches switches, std::unique_ptr<VisitCounter> visits, ServiceClock clock)
    : info_(info),
      metrics_(metrics),
      logger_(logger),
      started_(started),
      clock_(clock),
      delay_path_(std::move(switches.delay_path)),
      visits_(std::move(visits)),
      ready_(!switches.unready),
      healthy_(!switches.unhealthy) {
  // The router is the endpoint table: every published route needs a handler here.
  using enum RouteKind;
  struct Handled {
    std::string_view path;
    Handler handler;
    RouteKind kind;
  };
  static constexpr Handled kHandlers[] = {
      {"/", &Service::info, Plain},
      {"/health", &Service::health, Plain},
      {"/ready", &Service::ready, Plain},
      {"/livez", &Service::health, Plain},
      {"/readyz", &Service::ready, Plain},
      {"/metrics", &Service::metrics, Plain},
      {"/visits", &Service::visits, Plain},
      {"/grpc.health.v1.Health/Check", &Service::grpc_check, Grpc},
      {"/grpc.health.v1.Health/Watch", &Service::grpc_watch, Grpc},
      {"/status/{code}", &Service::status, OnDemand},
      {"/delay/{duration}", &Service::delay, OnDemand},
      {"/env", &Service::env, OnDemand},
      {"/headers", &Service::headers, OnDemand},
      {"/echo", &Service::echo, OnDemand},
      {"/upstreams", nullptr, Upstream},
  };
  for (const auto& e : core::endpoints()) {
    const auto* h =
        std::find_if(std::begin(kHandlers), std::end(kHandlers), [&](const Handled& k) { return k.path == e.path; });
    if (h == std::end(kHandlers) || (e.method != "GET" && e.method != "POST" && e.method != "POST, PUT")) {
      throw std::logic_error("no handler for endpoint " + std::string(e.path));
    }
    const auto brace = e.path.find('{');
    routes_.push_back(
        {e, h->handler, brace == std::string_view::npos ? std::string_view() : e.path.substr(0, brace), h->kind});
    labels_.push_back(e.path);
  }
  if (labels_.size() + 1 > Metrics::kMaxLabels) throw std::logic_error("more routes than metric label slots");
  labels_.push_back(kUnknownEndpoint);
  metrics_route_ = endpoint_index("/metrics");
  echo_route_ = endpoint_index("/echo");
  headers_route_ = endpoint_index("/headers");
  upstreams_route_ = endpoint_index("/upstreams");

  for (const auto& f : switches.faults) {
    if (endpoint_index(f.route) == routes_.size()) throw std::logic_error("fault for an unknown route " + f.route);
  }
  set_faults(switches.faults);
  set_introspection(switches);
  environment_ = process_environment();
  set_env_allow(switches.env_allow);
  set_trusted_proxies(switches.trusted_proxies);
  if (switches.unready) {
    logger_.log(core::LogLevel::Warning,
                "starting unready (--unready, or ready: false in the config file): /ready answers 503");
  }
  if (switches.unhealthy) {
    logger_.log(core::LogLevel::Warning,
                "starting unhealthy (--unhealthy, or healthy: false in the config file): /health answers 503");
  }
}

bool Service::stop() {
  return visits_ == nullptr || visits_->stop();
}

Service::FaultTable Service::fault_table(const std::vector<core::RouteFault>& faults) const {
  FaultTable t;
  for (const auto& f : faults) {
    const auto i = endpoint_index(f.route);
    if (i == routes_.size()) continue;  // the config rules admit only routes of the table
    t.routes[i] = {f.delay_min, f.delay_max, f.error_fraction};
    t.any = t.any || f.delay_max.count() > 0 || f.error_fraction > 0;
  }
  return t;
}

void Service::log_faults(const FaultTable& before, const FaultTable& after) const {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& f = after.routes[i];
    if (f == before.routes[i]) continue;
    if (f.delay_max.count() == 0 && f.error_fraction == 0) {
      logger_.log(core::LogLevel::Info, "fault injection off", {{"route", labels_[i]}});
      continue;
    }
    // Loud on purpose: nobody should run this by accident.
    logger_.log(core::LogLevel::Warning, "fault injection on",
                {{"route", labels_[i]},
                 {"delay_min", core::format_duration(f.delay_min)},
                 {"delay_max", core::format_duration(f.delay_max)},
                 {"error_fraction", f.error_fraction}});
  }
}

void Service::set_faults(const std::vector<core::RouteFault>& faults) {
  std::lock_guard lock(faults_mu_);
  auto next = fault_table(faults);
  log_faults(*faults_.load(), next);
  if (next.any) ever_faulted_.store(true, std::memory_order_relaxed);
  faults_.publish(next);
}

std::chrono::milliseconds Service::fault_delay(const Fault& f, std::size_t i) {
  if (f.delay_max.count() == 0) return std::chrono::milliseconds(0);
  auto d = f.delay_min;
  if (f.delay_max > f.delay_min) {
    const auto span = static_cast<double>((f.delay_max - f.delay_min).count());
    d += std::chrono::milliseconds(static_cast<std::int64_t>(uniform01() * (span + 1)));
  }
  if (d.count() > 0) delays_injected_[i].fetch_add(1, std::memory_order_relaxed);
  return d;
}

bool Service::fault_error(const Fault& f, std::size_t i) {
  const double p = f.error_fraction;
  if (p <= 0 || (p < 1 && uniform01() >= p)) return false;
  errors_injected_[i].fetch_add(1, std::memory_order_relaxed);
  return true;
}

void Service::render_faults(std::string& out) const {
  if (!ever_faulted_.load(std::memory_order_relaxed)) return;
  const auto& table = faults_.current();
  out += "# HELP devops_info_faults_injected_total Faults injected by --fault-delay and --fault-error.\n";
  out += "# TYPE devops_info_faults_injected_total counter\n";
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& f = table.routes[i];
    const auto delays = delays_injected_[i].load(std::memory_order_relaxed);
    const auto errors = errors_injected_[i].load(std::memory_order_relaxed);
    if (f.delay_max.count() > 0 || delays > 0) {
      fmt::format_to(std::back_inserter(out),
                     "devops_info_faults_injected_total{{endpoint=\"{}\",kind=\"delay\"}} {}\n",
                     escape_label(labels_[i]), delays);
    }
    if (f.error_fraction > 0 || errors > 0) {
      fmt::format_to(std::back_inserter(out),
                     "devops_info_faults_injected_total{{endpoint=\"{}\",kind=\"error\"}} {}\n",
                     escape_label(labels_[i]), errors);
    }
  }
}

std::size_t Service::endpoint_index(std::string_view path) const {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].endpoint.path == path) return i;
  }
  // A template: its prefix and one non-empty segment (/status/503).
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& prefix = routes_[i].prefix;
    if (prefix.empty() || path.size() <= prefix.size() || !path.starts_with(prefix)) continue;
    if (path.find('/', prefix.size()) == std::string_view::npos) return i;
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

HttpResponse Service::handle(const HttpRequest& req, Exchange& ex) noexcept {
  const auto route = endpoint_index(req.path);
  ex.begin(route == metrics_route_ ? nullptr : this, route, clock_.steady());
  begin_trace(req, ex);
  if (ex.in_progress()) metrics_.started();
  std::chrono::milliseconds delay{0};
  try {
    auto r = dispatch(req, route, ex, delay);
    r.delay += delay;  // a fault's delay on top of what the route asks for (/delay)
    if (r.delay.count() > 0 && ex.in_progress()) hold(r, ex);
    return r;
  } catch (...) {
    log_failure(req.method, req.path, std::current_exception());
  }
  if (req.grpc) {
    HttpResponse r;
    r.grpc = {kGrpcInternal, "internal error"};
    r.delay = delay;
    return r;
  }
  try {
    auto r = error(500, req.path);
    r.delay = delay;
    return r;
  } catch (...) {
    return {500,
            "application/json",
            R"({"error":"Internal Server Error","status":500})"
            "\n",
            {},
            delay};
  }
}

HttpResponse Service::dispatch(const HttpRequest& req, std::size_t i, const Exchange& ex,
                               std::chrono::milliseconds& delay) {
  // The hidden --delay-path: the answer is held back, on a timer.
  if (!delay_path_.empty() && req.path == delay_path_) delay = core::kTestDelay;
  if (i == routes_.size()) return error(404, req.path);
  const auto& route = routes_[i];
  // The on-demand routes, switched off: as if they were not there.
  if (route.kind == RouteKind::OnDemand && !introspection_.load(std::memory_order_relaxed)) return error(404, req.path);
  if (!allows(route, req.method)) return error(405, req.path);
  // The gRPC routes answer gRPC calls only: HTTP/2, application/grpc.
  if (route.kind == RouteKind::Grpc && !req.grpc) {
    core::Json doc{{"error", reason_phrase(415)}, {"status", 415}, {"path", req.path}};
    doc["detail"] = "a gRPC method: call it over HTTP/2 with content-type application/grpc";
    return json_response(415, doc);
  }
  if (const auto& table = faults_.current(); table.any) {
    delay = fault_delay(table.routes[i], i);
    // Through the same path as a handler that fails for real: 500 and an ERROR line.
    if (fault_error(table.routes[i], i)) throw std::runtime_error("injected fault (--fault-error)");
  }
  if (route.kind == RouteKind::Upstream) return upstreams(req, ex);
  return (this->*routes_[i].handler)(req);
}

HttpResponse Service::error(int status, std::string_view path) const {
  core::Json doc{{"error", reason_phrase(status)}, {"status", status}};
  if (!path.empty()) doc["path"] = path;
  const auto route = status == 405 ? endpoint_index(path) : routes_.size();
  const auto allow = route < routes_.size() ? allowed(routes_[route]) : kAllowGet;
  if (status == 405) {
    auto& list = doc["allowed"] = core::Json::array();
    for (auto rest = allow; !rest.empty();) {
      const auto comma = rest.find(", ");
      list.push_back(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    }
  }
  auto r = json_response(status, doc);
  if (status == 405) r.allow = allow;
  return r;
}

HttpResponse Service::info(const HttpRequest& req) {
  const auto format = choose_info_format(req.query, req.accept);
  if (!format) {
    core::Json doc{{"error", reason_phrase(400)}, {"status", 400}, {"path", req.path}};
    doc["detail"] = "?format= takes json or html";
    return json_response(400, doc);
  }
  const core::RequestInfo request{client_of(req), std::string(req.user_agent), std::string(req.method),
                                  std::string(req.path)};
  // Counted once the answer exists; HEAD counts too, as Flask runs the same view for it.
  if (*format == InfoFormat::Html) {
    const auto count = visits_ ? visits_->add() : 0;
    auto page = info_.render_html(request, clock_.wall(), count);
    HttpResponse r{200, kHtmlContentType, std::move(page.html), {}};
    r.headers = fmt::format(
        "Vary: Accept\r\nContent-Security-Policy: {}; frame-ancestors 'none'\r\nReferrer-Policy: no-referrer\r\n",
        page.csp);
    return r;
  }
  HttpResponse r{200, "application/json", info_.render(request, clock_.wall()), {}};
  r.headers = "Vary: Accept\r\n";  // a cache must not hand this to a browser, nor the page to curl
  if (visits_) visits_->add();
  return r;
}

HttpResponse Service::visits(const HttpRequest& req) {
  if (!visits_) {
    core::Json doc{{"error", reason_phrase(404)}, {"status", 404}, {"path", req.path}};
    doc["detail"] = "the visit counter is off: start serve with --data-dir DIR or DATA_DIR";
    return json_response(404, doc);
  }
  core::Json doc{{"visits", visits_->count()}};
  if (!visits_->writable()) {
    // The count goes on in memory, but it is not being saved: say so.
    doc["error"] = visits_->last_error();
    return json_response(503, doc);
  }
  return json_response(200, doc);
}

HttpResponse Service::health(const HttpRequest&) {
  const bool down = draining() || !healthy();  // read once: status and body must agree
  std::string body;
  body.reserve(96);
  core::append_health_json(body, down ? core::HealthStatus::Unhealthy : core::HealthStatus::Healthy, clock_.wall(),
                           started_);
  return {down ? 503 : 200, "application/json", std::move(body), {}};
}

HttpResponse Service::ready(const HttpRequest&) {
  if (shutting_down_.load(std::memory_order_relaxed)) return json_response(503, {{"status", "draining"}});
  if (!ready()) return json_response(503, {{"status", "unready"}});
  return json_response(200, {{"status", "ready"}});
}

HttpResponse Service::metrics(const HttpRequest&) {
  std::string out;
  out.reserve(4096);
  metrics_.render(out, labels_);
  render_process(out, read_process_stats(started_));
  render_build_info(out, core::build_info());
  render_config_reloads(out, metrics_.config);
  render_tls(out, metrics_.tls);
  upstream_metrics_.render(out);
  render_trace_export(out, export_stats_);
  if (visits_) {
    out += "# HELP devops_info_visits Visits of GET / counted in the data directory, across restarts.\n";
    out += "# TYPE devops_info_visits gauge\n";
    fmt::format_to(std::back_inserter(out), "devops_info_visits {}\n", visits_->count());
  }
  render_faults(out);
  return {200, kMetricsContentType, std::move(out), {}};
}

HttpResponse Service::refuse(int status, const HttpRequest& req, Exchange& ex) {
  ex.begin(nullptr, endpoint_index(req.path), clock_.steady());
  begin_trace(req, ex);
  return error(status, req.path);
}

void Service::hold(HttpResponse& r, Exchange& ex) {
  // Each held answer keeps its connection's or stream's state: bounded for the
  // whole process, past which it is 503 at once.
  if (held_.fetch_add(1, std::memory_order_relaxed) >= kMaxHeld) {
    held_.fetch_sub(1, std::memory_order_relaxed);
    core::Json doc{{"error", reason_phrase(503)}, {"status", 503}};
    doc["detail"] = fmt::format("{} answers are held back already (/delay, --fault-delay)", kMaxHeld);
    r = json_response(503, doc);
    r.headers = "Retry-After: 1\r\n";
    return;
  }
  ex.hold();
}

void Service::abandon(const Exchange& ex) noexcept {
  if (ex.held()) held_.fetch_sub(1, std::memory_order_relaxed);
  metrics_.finished();
}

void Service::finish(Exchange& ex, const HttpRequest& req, int status) noexcept {
  if (ex.held() && ex.in_progress()) held_.fetch_sub(1, std::memory_order_relaxed);
  const auto took = clock_.steady() - ex.start();
  if (ex.end()) metrics_.finished();
  if (ex.route() != metrics_route_) metrics_.observe(method_index(req.method), ex.route(), status, took);
  export_span(ex, req, status);
  if (!logger_.enabled(core::LogLevel::Info)) return;
  // No copy unless a trusted proxy forwarded the request.
  std::string forwarded;
  std::string_view client = req.client_ip;
  if (!req.forwarded_for.empty() || !req.forwarded.empty()) {
    forwarded = client_of(req);
    client = forwarded;
  }
  const double ms = std::chrono::duration<double, std::milli>(took).count();
  std::array<char, 32> trace_id{};
  std::array<char, 16> span_id{};
  trace::hex_into(ex.trace().trace, trace_id.data());
  trace::hex_into(ex.trace().span, span_id.data());
  try {
    logger_.log(core::LogLevel::Info, "request",
                {{"method", req.method},
                 {"path", req.path},
                 {"protocol", req.protocol},
                 {"status", status},
                 {"client_ip", client},
                 {"user_agent", req.user_agent},
                 {"duration_ms", ms},
                 {"trace_id", std::string_view(trace_id.data(), trace_id.size())},
                 {"span_id", std::string_view(span_id.data(), span_id.size())}});
  } catch (...) {  // out of memory for the line: the answer goes out all the same
  }
}

}  // namespace devops::serve
