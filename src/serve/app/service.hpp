#pragma once

// What the server does with a request, without the HTTP library: the router
// built from core::endpoints(), the handlers, the error documents, and the
// log line and metrics of each finished request. Tests drive it directly.

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cidr.hpp"
#include "core/endpoints.hpp"
#include "core/grpc_health.hpp"
#include "core/serve_config.hpp"
#include "serve/app/environment.hpp"
#include "serve/app/info_document.hpp"
#include "serve/app/metrics.hpp"
#include "serve/app/published.hpp"
#include "serve/app/upstream_metrics.hpp"
#include "serve/app/visits.hpp"
#include "serve/http/http_service.hpp"
#include "serve/http/http_types.hpp"
#include "serve/log/log.hpp"
#include "serve/trace/span_exporter.hpp"
#include "serve/trace/trace_context.hpp"
#include "serve/upstream/upstream_client.hpp"

namespace devops::serve {

inline constexpr std::string_view kUnknownEndpoint = "unknown";
// Answers held back at once (/delay, --fault-delay) in the whole process;
// past it, a request that would be held is answered 503 at once.
inline constexpr std::size_t kMaxHeld = 10'000;
// A request that has come through this many calls already (kHopsHeader) is
// refused with 508: a chain that loops (A -> B -> A) stops there.
inline constexpr int kMaxHops = 8;

// What GET /upstreams calls, and how (live: a reloaded config file replaces it).
struct UpstreamSettings {
  std::vector<std::shared_ptr<const UpstreamTarget>> targets;
  std::chrono::milliseconds timeout{2000};
  std::size_t max_body{std::size_t{1024} * 1024};
  std::string cacert;  // for https:// upstreams; empty: the system's CAs
};
// The configuration's upstreams (their URLs checked already) as targets.
UpstreamSettings upstream_settings(const core::UpstreamSettings& config);

// The clocks the service reads: the wall clock for the documents' times,
// the steady one for durations. Tests give fixed ones.
struct ServiceClock {
  std::chrono::system_clock::time_point (*wall)() = &std::chrono::system_clock::now;
  std::chrono::steady_clock::time_point (*steady)() = &std::chrono::steady_clock::now;
};

class Service final : public HttpService {
 public:
  using Clock = std::chrono::system_clock;

  // Throws std::logic_error when an endpoint of core::endpoints() has no handler.
  // Logs a WARNING when `switches` inject faults. `visits`: the counter of
  // GET /, or none (then /visits answers 404).
  Service(InfoDocument& info, Metrics& metrics, const Logger& logger, Clock::time_point started,
          core::Switches switches = {}, std::unique_ptr<VisitCounter> visits = nullptr, ServiceClock clock = {});

  // Answers a request, beginning its exchange: the route resolved once, in
  // progress unless it is a scrape of /metrics (which does not count
  // itself). Never throws (a failing handler gives 500 and an ERROR line).
  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override;
  // A request the HTTP layer refused: its exchange (not in progress) and error document.
  HttpResponse refuse(int status, const HttpRequest& req, Exchange& ex) override;
  // A request was answered: its metrics and its log line.
  void finish(Exchange& ex, const HttpRequest& req, int status) noexcept override;
  // The ERROR line for a request whose handling threw `ep`: its type and message.
  void log_failure(std::string_view method, std::string_view path, const std::exception_ptr& ep) const noexcept;
  // The JSON document for an error status the HTTP layer chose (400, 413, ...).
  HttpResponse error(int status, std::string_view path) const;

  // Route index for `path`, or endpoint_labels().size() - 1 ("unknown").
  std::size_t endpoint_index(std::string_view path) const;
  // The `endpoint` label values: the routes' paths, then "unknown".
  std::span<const std::string_view> endpoint_labels() const { return labels_; }

  // Shutdown was asked for (the --shutdown-delay before the drain): /ready
  // answers 503 from now on, /health still 200.
  void begin_shutdown() {
    shutting_down_.store(true, std::memory_order_relaxed);
    changed();
  }
  // Shutdown has begun: /health and /ready answer 503 from now on.
  void begin_drain() {
    shutting_down_.store(true, std::memory_order_relaxed);
    draining_.store(true, std::memory_order_relaxed);
    changed();
  }
  bool draining() const override { return draining_.load(std::memory_order_relaxed); }
  // An open gRPC Watch, asked again: the status now, or its end at the drain.
  HttpResponse follow(const HttpRequest& req) noexcept override;
  std::uint64_t changes() const override { return changes_.load(std::memory_order_relaxed); }
  // Called (from the thread that made it) after each change of the probe
  // switches or the shutdown's progress. Set it before any thread starts.
  void on_change(std::function<void()> f) { on_change_ = std::move(f); }

  // The probe switches (--unready, --unhealthy, `health --set`): false makes
  // /ready or /health answer 503. Draining wins over both.
  void set_ready(bool on) {
    ready_.store(on, std::memory_order_relaxed);
    changed();
  }
  void set_healthy(bool on) {
    healthy_.store(on, std::memory_order_relaxed);
    changed();
  }
  bool ready() const { return ready_.load(std::memory_order_relaxed); }
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

  // Replaces the injected faults (a reloaded config file); requests already
  // dispatched keep theirs. Logs each route whose fault changed.
  void set_faults(const std::vector<core::RouteFault>& faults);
  // Turns the on-demand routes (/status/{code}, /delay/{duration}, ...) on
  // or off (404), and bounds what /delay may be asked to wait and how large
  // a body /echo takes; from any thread.
  void set_introspection(const core::Switches& s) {
    introspection_.store(s.introspection, std::memory_order_relaxed);
    max_delay_ms_.store(s.max_delay.count(), std::memory_order_relaxed);
    max_body_.store(s.max_body, std::memory_order_relaxed);
  }
  // What a request to `path` needs kept: its header fields (/headers,
  // /echo), and its body up to how many bytes (/echo, while on).
  RequestNeeds needs(std::string_view path) const noexcept override;
  // The shell globs of the variables GET /env shows; from any thread.
  void set_env_allow(std::vector<std::string> patterns) { env_allow_.publish(std::move(patterns)); }
  // The proxies whose X-Forwarded-For and Forwarded are believed (CIDR
  // ranges, checked already); from any thread.
  void set_trusted_proxies(const std::vector<std::string>& ranges);
  // The client's address: the peer's, or the one a trusted proxy forwarded.
  std::string client_of(const HttpRequest& req) const;

  // Writes what is still only in memory (the visit count) and stops the
  // threads that do so; for the end of a graceful shutdown. Idempotent.
  // False if the count could not be written (visits()->last_error()).
  bool stop();
  VisitCounter* visits() const { return visits_.get(); }

  const Logger& logger() const { return logger_; }

  // The upstreams GET /upstreams calls; from any thread.
  void set_upstreams(UpstreamSettings s) { upstreams_.publish(std::move(s)); }
  // The name and pod GET /upstreams answers with (OTEL_SERVICE_NAME or
  // "devops-info"; POD_NAME or the host name). Before any thread starts.
  void set_identity(std::string name, std::string pod) {
    name_ = std::move(name);
    pod_ = std::move(pod);
  }
  // Tracing: the sampler, and where finished spans go (none: spans are not
  // recorded, but trace context is still read, logged and sent on).
  // Before any thread starts.
  void set_tracing(const trace::Sampler& sampler, trace::SpanExporter* exporter, const trace::ExportStats* stats) {
    sampler_ = sampler;
    exporter_ = exporter;
    export_stats_ = stats;
  }
  UpstreamMetrics& upstream_metrics() { return upstream_metrics_; }

 private:
  using Handler = HttpResponse (Service::*)(const HttpRequest&);
  enum class RouteKind {
    Plain,
    OnDemand,  // asked by a person on demand: off (404) with --introspection off
    Grpc,      // answers gRPC calls only
    Upstream,  // GET /upstreams: answered later, by the upstreams' answers
  };
  struct Route {
    core::Endpoint endpoint;
    Handler handler;
    std::string_view prefix;  // a template's path before its {name}; empty for a plain path
    RouteKind kind{RouteKind::Plain};
  };
  // The methods a route answers, as an Allow header lists them.
  static std::string_view allowed(const Route& r) {
    return r.endpoint.method == "GET" ? "GET, HEAD" : r.endpoint.method;
  }
  static bool allows(const Route& r, std::string_view method);

  HttpResponse info(const HttpRequest& req);
  HttpResponse health(const HttpRequest& req);
  HttpResponse ready(const HttpRequest& req);
  HttpResponse metrics(const HttpRequest& req);
  HttpResponse visits(const HttpRequest& req);
  HttpResponse status(const HttpRequest& req);
  HttpResponse delay(const HttpRequest& req);
  HttpResponse env(const HttpRequest& req);
  HttpResponse headers(const HttpRequest& req);
  HttpResponse echo(const HttpRequest& req);
  // GET /upstreams: a call to each upstream, the answer deferred until all have ended.
  HttpResponse upstreams(const HttpRequest& req, const Exchange& ex);
  // The trace context of a new exchange: the caller's (traceparent), or a new trace.
  void begin_trace(const HttpRequest& req, Exchange& ex) const;
  // The server span of an answered exchange, to the exporter (when sampled).
  void export_span(const Exchange& ex, const HttpRequest& req, int status) const noexcept;
  // The 400 of an on-demand route given a value it does not take.
  HttpResponse bad_value(const HttpRequest& req, std::string_view detail) const;
  HttpResponse grpc_check(const HttpRequest& req);
  HttpResponse grpc_watch(const HttpRequest& req);
  // What gRPC health says of `service` now: SERVICE_UNKNOWN for a name it does not know.
  core::ServingStatus serving(std::string_view service) const;
  void changed() {
    changes_.fetch_add(1, std::memory_order_relaxed);
    if (on_change_) on_change_();
  }
  HttpResponse dispatch(const HttpRequest& req, std::size_t route, const Exchange& ex,
                        std::chrono::milliseconds& delay);
  void abandon(const Exchange& ex) noexcept override;
  // Counts an answer held back (HttpResponse::delay), or makes it a 503 when
  // kMaxHeld are held already.
  void hold(HttpResponse& r, Exchange& ex);
  // The delay to inject into a request to route `i`, and whether to fail it.
  struct Fault {
    std::chrono::milliseconds delay_min{0};
    std::chrono::milliseconds delay_max{0};
    double error_fraction{0};
    bool operator==(const Fault&) const = default;
  };
  struct FaultTable {
    bool any{false};
    std::array<Fault, Metrics::kMaxLabels> routes{};
  };
  FaultTable fault_table(const std::vector<core::RouteFault>& faults) const;
  void log_faults(const FaultTable& before, const FaultTable& after) const;
  std::chrono::milliseconds fault_delay(const Fault& f, std::size_t i);
  bool fault_error(const Fault& f, std::size_t i);
  void render_faults(std::string& out) const;

  using Counters = std::array<std::atomic<std::uint64_t>, Metrics::kMaxLabels>;

  InfoDocument& info_;
  Metrics& metrics_;
  const Logger& logger_;
  Clock::time_point started_;
  ServiceClock clock_;
  std::string delay_path_;
  std::unique_ptr<VisitCounter> visits_;
  std::vector<Route> routes_;
  std::vector<std::string_view> labels_;
  std::size_t metrics_route_;
  std::size_t echo_route_;
  std::size_t headers_route_;
  std::size_t upstreams_route_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> ready_{true};
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> changes_{0};
  std::atomic<bool> introspection_{true};
  Environment environment_;  // as it was at start
  Published<std::vector<std::string>> env_allow_{std::vector<std::string>{}};
  Published<std::vector<core::Cidr>> trusted_proxies_{std::vector<core::Cidr>{}};
  std::atomic<std::int64_t> max_delay_ms_{10'000};
  std::atomic<std::size_t> held_{0};  // answers held back now, all connections
  std::atomic<std::uint64_t> max_body_{0};
  std::function<void()> on_change_;
  Published<FaultTable> faults_{FaultTable{}};
  std::mutex faults_mu_;                   // one set_faults() at a time
  std::atomic<bool> ever_faulted_{false};  // the fault counters are rendered from then on
  Counters delays_injected_{};
  Counters errors_injected_{};
  Published<UpstreamSettings> upstreams_{UpstreamSettings{}};
  UpstreamMetrics upstream_metrics_;
  std::string name_{"devops-info"};
  std::string pod_;
  trace::Sampler sampler_{};
  trace::SpanExporter* exporter_{nullptr};
  const trace::ExportStats* export_stats_{nullptr};
};

}  // namespace devops::serve
