// GET /upstreams (a call to each upstream, on the loop, the answer deferred
// until every call has ended) and the trace of each exchange: its context
// from traceparent or a new trace, and its server span.
#include <charconv>
#include <memory>

#include <fmt/format.h>

#include "core/build_info.hpp"
#include "core/config_values.hpp"
#include "core/json_depth.hpp"
#include "core/render.hpp"
#include "serve/app/service.hpp"
#include "serve/http/deferred.hpp"

namespace devops::serve {

namespace {

std::uint64_t unix_ns(std::chrono::system_clock::time_point t) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

double millis(std::chrono::nanoseconds d) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) / 1000.0;
}

HttpResponse json_answer(int status, const core::Json& doc) {
  return {status, "application/json", core::render_json(doc, core::JsonStyle::Compact), {}};
}

// The hop count a request carries: 0 when it has none (or none that reads as one).
int hops_of(const HttpRequest& req) {
  for (const auto& f : req.fields) {
    if (!core::iequals(f.name, kHopsHeader)) continue;
    int n = 0;
    const auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
    if (ec == std::errc{} && end == f.value.data() + f.value.size() && n > 0) return n;
  }
  return 0;
}

// One /upstreams request's calls, until the last has ended.
struct Gather {
  std::shared_ptr<const UpstreamSettings> settings;
  std::vector<CallResult> results;
  std::size_t left{0};
  std::shared_ptr<Deferred> deferred;
  std::chrono::steady_clock::time_point start;
};

core::Json entry_of(const UpstreamTarget& t, CallResult& r, bool& ok) {
  core::Json e = core::Json::object();
  e["url"] = t.url;
  e["status"] = r.status != 0 ? core::Json(r.status) : core::Json(nullptr);
  e["duration_ms"] = millis(r.took);
  if (r.error.empty()) {
    if (const auto depth = core::json_too_deep(r.body)) {
      r.error = fmt::format("bad answer: JSON nested deeper than {} levels", core::kMaxJsonDepth);
    } else {
      // An answer that is not JSON (nginx's page, a plain "ok") is nested
      // as text: the upstream did answer.
      auto answer = core::Json::parse(r.body, nullptr, false);
      e["answer"] = answer.is_discarded() ? core::Json(std::move(r.body)) : std::move(answer);
    }
  }
  if (!r.error.empty()) e["error"] = r.error;
  ok = ok && r.error.empty() && r.status >= 200 && r.status < 300;
  return e;
}

}  // namespace

UpstreamSettings upstream_settings(const core::UpstreamSettings& config) {
  UpstreamSettings out;
  out.timeout = config.timeout;
  out.max_body = static_cast<std::size_t>(config.max_body);
  out.cacert = config.cacert;
  for (const auto& url : config.urls) {
    auto parsed = parse_upstream(url);
    if (auto* t = std::get_if<UpstreamTarget>(&parsed))
      out.targets.push_back(std::make_shared<const UpstreamTarget>(std::move(*t)));
  }
  return out;
}

void Service::begin_trace(const HttpRequest& req, Exchange& ex) const {
  auto& t = ex.trace();
  std::optional<trace::SpanContext> parent;
  if (!req.traceparent.empty()) parent = trace::parse_traceparent(req.traceparent);
  t.trace = parent ? parent->trace : trace::new_trace_id();
  t.span = trace::new_span_id();
  t.parent = parent ? parent->span : trace::SpanId{};
  // Without an exporter nothing is recorded here; the caller's decision is sent on.
  t.sampled = exporter_ != nullptr ? sampler_.sample(t.trace, parent) : (parent && parent->sampled);
  if (exporter_ != nullptr && t.sampled) t.start_unix_ns = unix_ns(clock_.wall());
}

void Service::export_span(const Exchange& ex, const HttpRequest& req, int status) const noexcept {
  const auto& t = ex.trace();
  if (exporter_ == nullptr || !t.sampled) return;
  try {
    trace::Span s;
    s.context = {t.trace, t.span, true};
    s.parent = t.parent;
    const bool known = ex.route() < routes_.size();
    s.name = known ? fmt::format("{} {}", req.method, labels_[ex.route()]) : std::string(req.method);
    s.kind = trace::SpanKind::Server;
    s.start_unix_ns = t.start_unix_ns;
    s.end_unix_ns = unix_ns(clock_.wall());
    s.error = status >= 500;
    s.attributes.reserve(7);
    s.attributes.push_back({"http.request.method", std::string(req.method)});
    s.attributes.push_back({"url.path", std::string(req.path)});
    if (known) s.attributes.push_back({"http.route", std::string(labels_[ex.route()])});
    s.attributes.push_back({"http.response.status_code", std::int64_t{status}});
    s.attributes.push_back({"network.protocol.version", std::string(req.protocol == "HTTP/2"     ? "2"
                                                                    : req.protocol == "HTTP/1.0" ? "1.0"
                                                                                                 : "1.1")});
    if (!req.user_agent.empty()) s.attributes.push_back({"user_agent.original", std::string(req.user_agent)});
    s.attributes.push_back({"client.address", std::string(req.client_ip)});
    exporter_->push(std::move(s));
  } catch (...) {  // out of memory for the span: the answer goes out all the same
  }
}

HttpResponse Service::upstreams(const HttpRequest& req, const Exchange& ex) {
  const int hops = hops_of(req);
  if (hops >= kMaxHops) {
    core::Json doc{{"error", reason_phrase(508)}, {"status", 508}, {"path", req.path}};
    doc["detail"] = fmt::format(
        "this request has come through {} calls already ({}); a chain is stopped at {}, "
        "as a loop",
        hops, kHopsHeader, kMaxHops);
    return json_answer(508, doc);
  }
  auto settings = upstreams_.load();
  const auto n = settings->targets.size();
  const auto start = clock_.steady();
  if (n == 0) {
    core::Json doc{{"name", name_},
                   {"version", core::build_info().version},
                   {"pod", pod_},
                   {"duration_ms", 0.0},
                   {"upstreams", core::Json::array()}};
    return json_answer(200, doc);
  }
  auto* client = UpstreamClient::here();
  if (client == nullptr || client->room() < n) {
    auto r = error(503, req.path);
    r.headers = "Retry-After: 1\r\n";
    return r;
  }
  auto gather = std::make_shared<Gather>();
  gather->settings = settings;
  gather->results.resize(n);
  gather->left = n;
  gather->deferred = std::make_shared<Deferred>();
  gather->start = start;

  const auto& t = ex.trace();
  const bool exporting = exporter_ != nullptr && t.sampled;
  // tracestate goes on with a valid traceparent only.
  const auto tracestate =
      req.traceparent.empty() || !trace::parse_traceparent(req.traceparent) ? std::string_view() : req.tracestate;
  for (std::size_t i = 0; i < n; ++i) {
    const auto& target = settings->targets[i];
    const auto client_span = trace::new_span_id();
    CallRequest call;
    call.target = target;
    call.traceparent = trace::format_traceparent({t.trace, client_span, t.sampled});
    call.tracestate = std::string(tracestate);
    call.hops = hops + 1;
    call.timeout = settings->timeout;
    call.max_body = settings->max_body;
    call.cacert = settings->cacert;
    const auto trace_id = t.trace;
    const auto server_span = t.span;
    client->call(std::move(call), [this, gather, i, client_span, trace_id, server_span, exporting](CallResult r) {
      const auto& called = *gather->settings->targets[i];
      const auto status_label = r.status != 0 && r.error.empty() ? std::to_string(r.status)
                                                                 : std::string(r.failure.empty() ? "error" : r.failure);
      upstream_metrics_.observe(called.url, status_label, r.took);
      if (exporting) {
        try {
          trace::Span s;
          s.context = {trace_id, client_span, true};
          s.parent = server_span;
          s.name = "GET";
          s.kind = trace::SpanKind::Client;
          s.start_unix_ns = r.start_unix_ns;
          s.end_unix_ns = r.end_unix_ns;
          s.error = !r.error.empty() || r.status >= 500;
          s.status_message = r.error;
          s.attributes.push_back({"http.request.method", std::string("GET")});
          s.attributes.push_back({"url.full", called.url});
          s.attributes.push_back({"server.address", called.host});
          s.attributes.push_back({"server.port", std::int64_t{called.port}});
          if (r.status != 0) s.attributes.push_back({"http.response.status_code", std::int64_t{r.status}});
          if (!r.failure.empty()) s.attributes.push_back({"error.type", std::string(r.failure)});
          exporter_->push(std::move(s));
        } catch (...) {
        }
      }
      gather->results[i] = std::move(r);
      if (--gather->left != 0) return;
      bool ok = true;
      core::Json list = core::Json::array();
      for (std::size_t k = 0; k < gather->results.size(); ++k) {
        list.push_back(entry_of(*gather->settings->targets[k], gather->results[k], ok));
      }
      core::Json doc{{"name", name_},
                     {"version", core::build_info().version},
                     {"pod", pod_},
                     {"duration_ms", millis(clock_.steady() - gather->start)},
                     {"upstreams", std::move(list)}};
      try {
        gather->deferred->complete(json_answer(ok ? 200 : 502, doc));
      } catch (...) {
        gather->deferred->complete(error(500, "/upstreams"));
      }
    });
  }
  // Sent only if the calls have not all ended a second past their timeout
  // (they end by it): the loop's own bound on the wait.
  auto fallback = error(504, req.path);
  fallback.delay = settings->timeout + std::chrono::seconds(1);
  fallback.deferred = gather->deferred;
  return fallback;
}

}  // namespace devops::serve
