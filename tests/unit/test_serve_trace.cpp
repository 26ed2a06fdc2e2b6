// Trace context, the sampler, the resource, the OTLP/JSON encoding, the
// batch exporter and the OTEL_* environment.
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "serve/process/tracing.hpp"
#include "serve/trace/span.hpp"
#include "serve/trace/span_exporter.hpp"
#include "serve/trace/trace_context.hpp"

using namespace devops::serve;
using namespace devops::serve::trace;
using namespace std::chrono_literals;

namespace {

const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kSpan = "00f067aa0ba902b7";

devops::core::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Span sample_span(std::uint8_t n) {
  Span s;
  s.context.trace.fill(n);
  s.context.span.fill(static_cast<std::uint8_t>(n + 1));
  s.context.sampled = true;
  s.name = "GET /health";
  s.start_unix_ns = 1'700'000'000'000'000'000;
  s.end_unix_ns = 1'700'000'000'001'000'000;
  s.attributes.push_back({"http.request.method", std::string("GET")});
  s.attributes.push_back({"http.response.status_code", std::int64_t{200}});
  return s;
}

}  // namespace

TEST_CASE("traceparent: what W3C Trace Context accepts") {
  const auto ok = parse_traceparent("00-" + kTrace + "-" + kSpan + "-01");
  REQUIRE(ok);
  CHECK(hex(ok->trace) == kTrace);
  CHECK(hex(ok->span) == kSpan);
  CHECK(ok->sampled);
  CHECK_FALSE(parse_traceparent("00-" + kTrace + "-" + kSpan + "-00")->sampled);
  // Other flag bits are not the sampled one.
  CHECK_FALSE(parse_traceparent("00-" + kTrace + "-" + kSpan + "-02")->sampled);
  // A later version: its first four fields, and more after a dash.
  CHECK(parse_traceparent("cc-" + kTrace + "-" + kSpan + "-01-what-the-future-holds"));
  CHECK(parse_traceparent("cc-" + kTrace + "-" + kSpan + "-01"));
}

TEST_CASE("traceparent: what it refuses") {
  const std::vector<std::string> bad{
      "",
      "00-" + kTrace + "-" + kSpan,                            // no flags
      "ff-" + kTrace + "-" + kSpan + "-01",                    // version ff
      "00-" + std::string(32, '0') + "-" + kSpan + "-01",      // trace id of zeros
      "00-" + kTrace + "-" + std::string(16, '0') + "-01",     // span id of zeros
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + kSpan + "-01",  // upper case
      "00-" + kTrace + "-" + kSpan + "-01-extra",              // version 00 with more
      "00-" + kTrace + "-" + kSpan + "-1",                     // short flags
      "00-" + kTrace.substr(1) + "x-" + kSpan + "-01",         // not hex
      "0-" + kTrace + "-" + kSpan + "-01",                     // short version
      "cc-" + kTrace + "-" + kSpan + "-01x",                   // later version, no dash
      "00_" + kTrace + "-" + kSpan + "-01",                    // not a dash
  };
  for (const auto& v : bad) {
    INFO(v);
    CHECK_FALSE(parse_traceparent(v));
  }
}

TEST_CASE("traceparent: written as version 00, the span as the parent") {
  const auto ctx = *parse_traceparent("00-" + kTrace + "-" + kSpan + "-01");
  CHECK(format_traceparent(ctx) == "00-" + kTrace + "-" + kSpan + "-01");
  auto unsampled = ctx;
  unsampled.sampled = false;
  CHECK(format_traceparent(unsampled) == "00-" + kTrace + "-" + kSpan + "-00");
  // A later version is answered in version 00.
  CHECK(format_traceparent(*parse_traceparent("cc-" + kTrace + "-" + kSpan + "-01-x")).starts_with("00-"));
}

TEST_CASE("new ids are random and never zero") {
  const auto a = new_trace_id();
  const auto b = new_trace_id();
  CHECK(a != b);
  CHECK(a != TraceId{});
  CHECK(new_span_id() != SpanId{});
  // Zeros are drawn again.
  static int draws = 0;
  set_id_source([](std::uint8_t* out, std::size_t n) { std::fill(out, out + n, draws++ == 0 ? 0 : 0x42); });
  TraceId want{};
  want.fill(0x42);
  CHECK(new_trace_id() == want);
  CHECK(draws == 2);
  set_id_source(nullptr);
}

TEST_CASE("new ids: no repeats, every bit used, and each thread draws its own") {
  std::set<TraceId> seen;
  std::array<std::size_t, 128> ones{};
  constexpr std::size_t kIds = 100000;
  for (std::size_t i = 0; i < kIds; ++i) {
    const auto id = new_trace_id();
    seen.insert(id);
    for (std::size_t bit = 0; bit < 128; ++bit) ones[bit] += (static_cast<unsigned>(id[bit / 8]) >> (bit % 8)) & 1U;
  }
  CHECK(seen.size() == kIds);
  for (const auto n : ones) {  // each bit set about half the time (5 standard deviations: 790)
    CHECK(n > kIds / 2 - 790);
    CHECK(n < kIds / 2 + 790);
  }
  // The traceidratio sampler reads the last 8 bytes as a number: a quarter is sampled.
  Sampler quarter{Sampler::Kind::TraceIdRatio, 0.25, false};
  std::size_t sampled = 0;
  for (std::size_t i = 0; i < kIds; ++i) sampled += quarter.sample(new_trace_id(), std::nullopt) ? 1U : 0U;
  CHECK(sampled > 24000);
  CHECK(sampled < 26000);
  TraceId other{};
  std::thread([&other] { other = new_trace_id(); }).join();
  CHECK(seen.count(other) == 0);
}

TEST_CASE("the sampler: the names, the ratio and the parent") {
  std::string why;
  const auto def = parse_sampler("", "", why);
  REQUIRE(def);
  CHECK(def->parent_based);
  CHECK(def->root == Sampler::Kind::AlwaysOn);

  const TraceId id = *[] {
    TraceId t{};
    t.fill(0xff);
    return std::optional(t);
  }();
  SpanContext parent_off;
  parent_off.trace = id;
  parent_off.span.fill(1);
  parent_off.sampled = false;
  auto parent_on = parent_off;
  parent_on.sampled = true;

  CHECK(def->sample(id, std::nullopt));
  CHECK_FALSE(def->sample(id, parent_off));
  CHECK(def->sample(id, parent_on));

  const auto on = *parse_sampler("always_on", "", why);
  CHECK(on.sample(id, parent_off));  // not parent-based: the caller's flag is ignored
  const auto off = *parse_sampler("always_off", "", why);
  CHECK_FALSE(off.sample(id, parent_on));
  const auto pb_off = *parse_sampler("parentbased_always_off", "", why);
  CHECK_FALSE(pb_off.sample(id, std::nullopt));
  CHECK(pb_off.sample(id, parent_on));

  // traceidratio: by the trace id, so that every service decides alike.
  const auto none = *parse_sampler("traceidratio", "0", why);
  const auto all = *parse_sampler("traceidratio", "1", why);
  const auto half = *parse_sampler("traceidratio", "0.5", why);
  int kept = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto t = new_trace_id();
    CHECK_FALSE(none.sample(t, std::nullopt));
    CHECK(all.sample(t, std::nullopt));
    kept += half.sample(t, std::nullopt) ? 1 : 0;
    CHECK(half.sample(t, std::nullopt) == half.sample(t, std::nullopt));
  }
  CHECK(kept > 800);
  CHECK(kept < 1200);
  CHECK(parse_sampler("traceidratio", "", why)->ratio == 1.0);

  CHECK_FALSE(parse_sampler("traceidratio", "1.5", why));
  CHECK(why.find("ratio") != std::string::npos);
  CHECK_FALSE(parse_sampler("traceidratio", "x", why));
  CHECK_FALSE(parse_sampler("jaeger_remote", "", why));
  CHECK(why.find("jaeger_remote") != std::string::npos);
}

TEST_CASE("the resource: service.name, the version and OTEL_RESOURCE_ATTRIBUTES") {
  CHECK(parse_resource_attributes("k8s.pod.name=web-0, k8s.namespace.name=demo,bad,=x,note=a%20b%2Cc") ==
        Resource{{"k8s.pod.name", "web-0"}, {"k8s.namespace.name", "demo"}, {"note", "a b,c"}});
  CHECK(make_resource("", "1.2.3", "") == Resource{{"service.name", "devops-info"}, {"service.version", "1.2.3"}});
  CHECK(make_resource("", "1", "service.name=shop,x=y") ==
        Resource{{"service.name", "shop"}, {"service.version", "1"}, {"x", "y"}});
  // OTEL_SERVICE_NAME wins over the attribute.
  CHECK(make_resource("cart", "1", "service.name=shop")[0].second == "cart");
}

TEST_CASE("OTLP/JSON: ids in hex, times as strings, kinds and status as numbers") {
  std::vector<Span> spans{sample_span(0xab)};
  spans[0].parent.fill(0x11);
  spans[0].kind = SpanKind::Client;
  spans[0].error = true;
  spans[0].status_message = "timed out";
  spans[0].attributes.push_back({"url.path", std::string("/\xff\xfe")});  // not UTF-8
  const auto body = encode_otlp_json(make_resource("svc", "9.9", "a=b"), spans, "9.9");
  const auto doc = nlohmann::json::parse(body);
  const auto& rs = doc["resourceSpans"][0];
  CHECK(rs["resource"]["attributes"][0] ==
        nlohmann::json::parse(R"({"key":"service.name","value":{"stringValue":"svc"}})"));
  CHECK(rs["resource"]["attributes"][2]["key"] == "a");
  const auto& scope = rs["scopeSpans"][0];
  CHECK(scope["scope"]["name"] == "devops-info");
  CHECK(scope["scope"]["version"] == "9.9");
  const auto& s = scope["spans"][0];
  CHECK(s["traceId"] == std::string(32, 'a').replace(0, 32, "abababababababababababababababab"));
  CHECK(s["spanId"] == "acacacacacacacac");
  CHECK(s["parentSpanId"] == "1111111111111111");
  CHECK(s["name"] == "GET /health");
  CHECK(s["kind"] == 3);
  CHECK(s["startTimeUnixNano"] == "1700000000000000000");
  CHECK(s["endTimeUnixNano"] == "1700000000001000000");
  CHECK(s["status"]["code"] == 2);
  CHECK(s["status"]["message"] == "timed out");
  CHECK(s["attributes"][1] ==
        nlohmann::json::parse(R"({"key":"http.response.status_code","value":{"intValue":"200"}})"));
  CHECK(s["attributes"][2]["value"]["stringValue"].get<std::string>().find('\xff') == std::string::npos);
  // A root span has no parent; a span without error no status code 2.
  const auto root = nlohmann::json::parse(encode_otlp_json({}, std::vector<Span>{sample_span(1)}, "1"));
  const auto& r = root["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK((!r.contains("parentSpanId") || r["parentSpanId"] == ""));
  CHECK((!r.contains("status") || r["status"].value("code", 0) != 2));
}

namespace {

// A collector in memory: what it was sent, and what it answers.
struct FakeCollector {
  std::mutex mu;
  std::vector<std::string> bodies;
  std::vector<int> answers;  // taken in turn; then 200
  std::atomic<int> posts{0};
  std::chrono::milliseconds hang{0};

  PostFn fn() {
    return [this](const std::string& body, std::chrono::milliseconds timeout) {
      posts.fetch_add(1);
      PostResult r;
      if (hang.count() > 0) {  // no answer within the timeout
        std::this_thread::sleep_for(std::min(hang, timeout));
        r.error = "timed out";
        return r;
      }
      const std::lock_guard lock(mu);
      r.status = 200;
      if (!answers.empty()) {
        r.status = answers.front();
        answers.erase(answers.begin());
      }
      if (r.status >= 200 && r.status < 300) bodies.push_back(body);
      return r;
    };
  }
  std::size_t spans() {
    const std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& b : bodies) n += nlohmann::json::parse(b)["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
    return n;
  }
};

}  // namespace

TEST_CASE("the exporter: batches by size and by the schedule, flushes at shutdown") {
  FakeCollector c;
  ExportStats stats;
  BatchConfig cfg;
  cfg.schedule_delay = 50ms;
  cfg.max_batch = 10;
  cfg.max_queue = 100;
  SpanExporter e(cfg, make_resource("", "1", ""), "1", c.fn(), stats);
  for (int i = 0; i < 25; ++i) e.push(sample_span(static_cast<std::uint8_t>(i + 1)));
  for (int i = 0; i < 100 && stats.exported.load() < 25; ++i) std::this_thread::sleep_for(10ms);
  CHECK(stats.exported.load() == 25);
  CHECK(c.spans() == 25);
  {
    const std::lock_guard lock(c.mu);
    CHECK(c.bodies.size() >= 3);  // no batch over 10
  }
  for (int i = 0; i < 5; ++i) e.push(sample_span(1));
  CHECK(e.shutdown(2s));
  CHECK(stats.exported.load() == 30);
  CHECK(stats.dropped.load() == 0);
  e.push(sample_span(1));  // after the shutdown: dropped, counted
  CHECK(stats.dropped.load() == 1);
}

TEST_CASE("the exporter: a full queue drops and counts, never blocks; a shutdown leaves a hanging POST behind") {
  // Static: the thread left in its POST outlives the test case's scope.
  static FakeCollector c;
  c.hang = 5s;  // a collector that hangs
  static ExportStats stats;
  BatchConfig cfg;
  cfg.schedule_delay = 1ms;
  cfg.max_batch = 5;
  cfg.max_queue = 20;
  cfg.request_timeout = 200ms;
  cfg.export_timeout = 300ms;
  SpanExporter e(cfg, {}, "1", c.fn(), stats);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) e.push(sample_span(1));
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  // The queue's 20, and at most 20 more the thread took out to send.
  CHECK(stats.dropped.load() >= 960);
  const auto t1 = std::chrono::steady_clock::now();
  CHECK_FALSE(e.shutdown(100ms));  // a POST was under way: not waited for past the deadline
  CHECK(std::chrono::steady_clock::now() - t1 < 1s);
  CHECK(stats.exported.load() == 0);
  // The POST left behind ends at its own timeout and counts its batch.
  const auto total = [] { return stats.exported.load() + stats.dropped.load() + stats.failed.load(); };
  for (int i = 0; i < 200 && total() < 1000; ++i) std::this_thread::sleep_for(10ms);
  CHECK(total() == 1000);
}

TEST_CASE("the exporter: retries what the collector asks to be retried, not what it refuses") {
  FakeCollector c;
  c.answers = {503, 429, 0};
  ExportStats stats;
  BatchConfig cfg;
  cfg.schedule_delay = 1ms;
  cfg.max_batch = 1;
  SpanExporter e(cfg, {}, "1", c.fn(), stats);
  e.push(sample_span(1));
  for (int i = 0; i < 300 && stats.exported.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(stats.exported.load() == 1);
  CHECK(c.posts.load() == 4);
  {
    const std::lock_guard lock(c.mu);
    c.answers = {400};
  }
  e.push(sample_span(2));
  for (int i = 0; i < 300 && stats.failed.load() < 1; ++i) std::this_thread::sleep_for(10ms);
  CHECK(stats.failed.load() == 1);
  CHECK(c.posts.load() == 5);  // a 400 is not sent again
  CHECK(e.shutdown(1s));
}

TEST_CASE("OTEL_* environment: off unless an endpoint is set") {
  ExportStats stats;
  auto t = setup_tracing(env_of({}), "1.0.0", stats);
  CHECK_FALSE(t.exporter);
  CHECK(t.service_name == "devops-info");
  CHECK(t.warnings.empty());

  t = setup_tracing(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}}), "1", stats);
  REQUIRE(t.exporter);
  CHECK(t.endpoint == "http://collector:4318/v1/traces");
  t.exporter->shutdown(0ms);

  t = setup_tracing(env_of({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://tempo:4318/otlp/v1/traces"},
                            {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"}}),
                    "1", stats);
  REQUIRE(t.exporter);
  CHECK(t.endpoint == "https://tempo:4318/otlp/v1/traces");
  t.exporter->shutdown(0ms);

  t = setup_tracing(env_of({{"OTEL_TRACES_EXPORTER", "otlp"}}), "1", stats);
  REQUIRE(t.exporter);
  CHECK(t.endpoint == "http://localhost:4318/v1/traces");
  t.exporter->shutdown(0ms);

  for (const auto& off : std::vector<std::map<std::string, std::string>>{
           {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_SDK_DISABLED", "TRUE"}},
           {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_TRACES_EXPORTER", "none"}}}) {
    t = setup_tracing(env_of(off), "1", stats);
    CHECK_FALSE(t.exporter);
    CHECK(t.warnings.empty());
  }
}

TEST_CASE("OTEL_* environment: a wrong value is a warning and the default, never a failure") {
  ExportStats stats;
  auto t = setup_tracing(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"},
                                 {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                                 {"OTEL_BSP_SCHEDULE_DELAY", "soon"},
                                 {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
                                 {"OTEL_TRACES_SAMPLER", "sometimes"},
                                 {"OTEL_SERVICE_NAME", "shop"}}),
                         "1", stats);
  REQUIRE(t.exporter);
  t.exporter->shutdown(0ms);
  CHECK(t.service_name == "shop");
  REQUIRE(t.warnings.size() == 4);
  CHECK(t.warnings[0].find("sometimes") != std::string::npos);
  CHECK(t.warnings[1].find("http/json") != std::string::npos);
  CHECK(t.warnings[2].find("OTEL_BSP_SCHEDULE_DELAY") != std::string::npos);
  CHECK(t.warnings[3].find("OTEL_BSP_MAX_QUEUE_SIZE") != std::string::npos);
  CHECK(t.sampler.parent_based);

  t = setup_tracing(env_of({{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c"}}), "1", stats);
  CHECK_FALSE(t.exporter);
  REQUIRE(t.warnings.size() == 1);
  CHECK(t.warnings[0].find("ftp://c") != std::string::npos);
  t = setup_tracing(env_of({{"OTEL_TRACES_EXPORTER", "zipkin"}}), "1", stats);
  CHECK_FALSE(t.exporter);
  CHECK(t.warnings.size() == 1);
}

TEST_CASE("OTEL_EXPORTER_OTLP_HEADERS: header lines, percent-decoded; bad pairs skipped") {
  std::vector<std::string> warnings;
  CHECK(otlp_headers("Authorization=Basic%20YWJj, X-Scope-OrgID=tenant1", warnings) ==
        "Authorization: Basic YWJj\r\nX-Scope-OrgID: tenant1\r\n");
  CHECK(warnings.empty());
  CHECK(otlp_headers("bad key=1,novalue,x=%0d%0aInjected: 1,y=%zz,ok=1", warnings) == "ok: 1\r\n");
  CHECK(warnings.size() == 4);
}
