#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <memory>
#include <sstream>

#include "catch.hpp"
#include "core/collect.hpp"
#include "core/render.hpp"
#include "core/timefmt.hpp"
#include "fixture.hpp"
#include "serve/app/client_address.hpp"
#include "serve/app/info_document.hpp"
#include "serve/app/service.hpp"

using namespace devops;
using namespace std::chrono_literals;

namespace {

// A Service on the host-v2 fixture, logging into a temporary file.
struct Harness {
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now() - 3725s;
  std::FILE* log_file = std::tmpfile();
  serve::Logger logger{core::LogFormat::JsonLines, core::LogLevel::Debug, fileno(log_file)};
  std::unique_ptr<serve::Metrics> metrics = std::make_unique<serve::Metrics>();
  serve::InfoDocument info{[] { return core::collect_report(test::fixture("host-v2"), test::fixed_now(), 4242); }, 1s,
                           started};
  serve::Service service;

  // `data_dir`: a visit counter there (written every 50 ms), or none.
  explicit Harness(core::Switches switches = {}, const std::string& data_dir = {})
      : service(info, *metrics, logger, started, std::move(switches),
                data_dir.empty() ? nullptr : std::make_unique<serve::VisitCounter>(data_dir, logger, 50ms)) {}
  ~Harness() { std::fclose(log_file); }

  // The answer alone: its exchange is dropped unfinished (no log line, not counted).
  serve::HttpResponse answer(const serve::HttpRequest& req) {
    serve::Exchange ex;
    return service.handle(req, ex);
  }
  // A whole exchange, answered with the handler's status.
  int exchange(const serve::HttpRequest& req) {
    serve::Exchange ex;
    const auto status = service.handle(req, ex).status;
    service.finish(ex, req, status);
    return status;
  }

  std::vector<nlohmann::json> logs() const {
    std::fflush(log_file);
    std::rewind(log_file);
    std::vector<nlohmann::json> out;
    char buf[8192];
    while (std::fgets(buf, sizeof buf, log_file) != nullptr) out.push_back(nlohmann::json::parse(buf));
    return out;
  }
};

serve::HttpRequest get(std::string_view path, std::string_view method = "GET") {
  return {method, path, "127.0.0.1", "unit-test"};
}

}  // namespace

TEST_CASE("the router is the endpoint table") {
  const test::TempDir dir;
  Harness h({}, dir.path.string());
  const auto labels = h.service.endpoint_labels();
  REQUIRE(labels.size() == core::endpoints().size() + 1);
  for (std::size_t i = 0; i < core::endpoints().size(); ++i) {
    CHECK(labels[i] == core::endpoints()[i].path);
    CHECK(h.service.endpoint_index(core::endpoints()[i].path) == i);
    // A template is asked with a value in its {name}.
    std::string path(core::endpoints()[i].path);
    if (const auto brace = path.find('{'); brace != std::string::npos) {
      path = path.substr(0, brace) + (path.starts_with("/status/") ? "200" : "1ms");
    }
    const auto methods = core::endpoints()[i].method;  // "GET", "POST", "POST, PUT"
    auto req = get(path, methods.substr(0, methods.find(',')));
    req.grpc = path.starts_with("/grpc.");  // the gRPC methods; an empty request: the whole server
    CHECK(h.service.endpoint_index(path) == i);
    CHECK(h.answer(req).status == 200);
  }
  CHECK(labels.back() == "unknown");
  CHECK(h.service.endpoint_index("/nope") == labels.size() - 1);
}

TEST_CASE("GET / is the core report with the request, byte for byte") {
  Harness h;
  const auto r = h.answer({"GET", "/", "10.0.0.7", "agent \"x\""});
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  auto doc = nlohmann::ordered_json::parse(r.body);
  // What core renders for the same report and request, with the live values copied over.
  auto report = core::collect_report(test::fixture("host-v2"), test::fixed_now(), 4242);
  report.runtime.uptime_seconds = doc["runtime"]["uptime_seconds"].get<std::int64_t>();
  report.runtime.uptime_human = doc["runtime"]["uptime_human"].get<std::string>();
  report.runtime.current_time = doc["runtime"]["current_time"].get<std::string>();
  const core::RequestInfo req{"10.0.0.7", "agent \"x\"", "GET", "/"};
  CHECK(r.body == core::render_json(core::report_to_json(report, &req), core::JsonStyle::Compact));
  CHECK(doc["runtime"]["uptime_seconds"].get<std::int64_t>() >= 3725);
  CHECK(doc["runtime"]["uptime_human"] == "1 hours, 2 minutes");
  CHECK(doc["runtime"]["pid"] == 4242);
}

TEST_CASE("InfoDocument collects at most once per max age and fills the per-request values") {
  int collections = 0;
  const auto started = test::fixed_now() - 90s;
  serve::InfoDocument info(
      [&] {
        ++collections;
        return core::collect_report(test::fixture("docker-v2"), test::fixed_now(), 7);
      },
      1s, started);
  const core::RequestInfo req{"::1", "ua", "HEAD", "/"};
  auto a = nlohmann::json::parse(info.render(req, test::fixed_now()));
  auto b = nlohmann::json::parse(info.render(req, test::fixed_now() + 500ms));
  CHECK(collections == 1);
  CHECK(a["runtime"]["current_time"] == "2026-11-28T14:34:56.789012+00:00");
  CHECK(b["runtime"]["current_time"] == "2026-11-28T14:34:57.289012+00:00");
  CHECK(a["runtime"]["uptime_seconds"] == 90);
  CHECK(a["runtime"]["uptime_human"] == "0 hours, 1 minutes");
  CHECK(a["request"]["method"] == "HEAD");
  (void)info.render(req, test::fixed_now() + 1500ms);
  CHECK(collections == 2);
}

TEST_CASE("a report whose text collides with the gap markers still renders right") {
  const auto started = test::fixed_now();
  serve::InfoDocument info(
      [] {
        auto r = core::collect_report(test::fixture("host-v2"), test::fixed_now(), 7);
        r.system.hostname = "\x01slot-0\x01";  // what a marker looks like
        return r;
      },
      1s, started);
  const core::RequestInfo req{"1.2.3.4", "ua", "GET", "/x"};
  auto doc = nlohmann::json::parse(info.render(req, test::fixed_now() + 5s));
  CHECK(doc["system"]["hostname"] == "\x01slot-0\x01");
  CHECK(doc["runtime"]["uptime_seconds"] == 5);
  CHECK(doc["request"]["path"] == "/x");
}

TEST_CASE("errors: 404, 405 with Allow, and 500 with an ERROR line") {
  core::Switches sw;
  sw.faults.push_back({"/ready", 0ms, 0ms, 1.0});  // every /ready fails inside the service
  Harness h(sw);
  SECTION("an unknown path is 404 JSON") {
    const auto r = h.answer(get("/nope"));
    CHECK(r.status == 404);
    CHECK(nlohmann::json::parse(r.body)["error"] == "Not Found");
  }
  SECTION("a method other than GET or HEAD is 405 with Allow; HEAD is answered") {
    const auto r = h.answer(get("/health", "DELETE"));
    CHECK(r.status == 405);
    CHECK(r.allow == "GET, HEAD");
    CHECK(h.answer(get("/health", "HEAD")).status == 200);
  }
  SECTION("a handler that fails is 500 JSON and an ERROR line, after the fault's WARNING") {
    const auto r = h.answer(get("/ready"));
    CHECK(r.status == 500);
    CHECK(nlohmann::json::parse(r.body)["error"] == "Internal Server Error");
    const auto logs = h.logs();
    REQUIRE(logs.size() == 2);
    CHECK(logs[0]["level"] == "WARNING");  // fault injection is announced
    CHECK(logs[0]["msg"] == "fault injection on");
    CHECK(logs[1]["level"] == "ERROR");
    CHECK(logs[1]["error_type"] == "std::runtime_error");
    CHECK(logs[1]["path"] == "/ready");
  }
  SECTION("the protocol's refusals get the same JSON documents") {
    CHECK(h.service.error(413, "/").status == 413);
    CHECK(nlohmann::json::parse(h.service.error(413, "/").body)["error"] == "Payload Too Large");
  }
}

TEST_CASE("/livez and /readyz answer as /health and /ready, switched or draining, and count as themselves") {
  core::Switches sw;
  sw.unready = true;
  Harness h(sw);
  auto same = [&](const char* alias, const char* path) {
    INFO(alias);
    const auto a = h.answer(get(alias));
    const auto b = h.answer(get(path));
    CHECK(a.status == b.status);
    CHECK(a.content_type == b.content_type);
    CHECK(nlohmann::json::parse(a.body)["status"] == nlohmann::json::parse(b.body)["status"]);
    return a.status;
  };
  CHECK(same("/livez", "/health") == 200);
  CHECK(same("/readyz", "/ready") == 503);  // unready
  h.service.set_ready(true);
  h.service.set_healthy(false);
  CHECK(same("/livez", "/health") == 503);
  CHECK(same("/readyz", "/ready") == 200);
  h.service.set_healthy(true);
  h.service.begin_drain();
  CHECK(same("/livez", "/health") == 503);
  CHECK(same("/readyz", "/ready") == 503);
  CHECK(h.exchange(get("/livez")) == 503);
  const auto get_i = serve::method_index("GET");
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/livez"), 503) == 1);
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/health"), 503) == 0);
}

TEST_CASE("draining turns /health and /ready to 503") {
  Harness h;
  CHECK(nlohmann::json::parse(h.answer(get("/health")).body)["status"] == "healthy");
  h.service.begin_drain();
  auto r = h.answer(get("/health"));
  CHECK(r.status == 503);
  CHECK(nlohmann::json::parse(r.body)["status"] == "unhealthy");
  r = h.answer(get("/ready"));
  CHECK(r.status == 503);
  CHECK(nlohmann::json::parse(r.body)["status"] == "draining");
  CHECK(h.answer(get("/")).status == 200);
}

TEST_CASE("a request whose connection dies before its held answer is no longer in progress") {
  Harness h;
  serve::HttpService& app = h.service;  // as the engine sees it
  auto held = std::make_unique<serve::Exchange>();
  serve::Exchange answered;
  app.handle(get("/"), *held);
  app.handle(get("/health"), answered);
  CHECK(held->in_progress());
  CHECK(h.metrics->in_progress() == 2);
  held.reset();  // closed while the answer was held back: no answer, no log line
  CHECK(h.metrics->in_progress() == 1);
  app.finish(answered, get("/health"), 200);
  CHECK_FALSE(answered.in_progress());
  CHECK(h.metrics->in_progress() == 0);
  CHECK(h.logs().size() == 1);
  serve::Exchange moved = std::move(answered);  // an ended exchange, moved, ends nothing again
  CHECK(h.metrics->in_progress() == 0);
}

TEST_CASE("an exchange keeps the route resolved when it began") {
  Harness h;
  serve::Exchange ex;
  h.service.handle(get("/health"), ex);
  CHECK(ex.route() == h.service.endpoint_index("/health"));
  // What finish() is given later does not route it again.
  h.service.finish(ex, get("/elsewhere"), 200);
  const auto get_i = serve::method_index("GET");
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/health"), 200) == 1);
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/elsewhere"), 200) == 0);
}

TEST_CASE("a refused request is counted under its route, never in progress") {
  Harness h;
  serve::Exchange ex;
  const auto r = h.service.refuse(413, get("/health", "POST"), ex);
  CHECK(r.status == 413);
  CHECK_FALSE(ex.in_progress());
  CHECK(h.metrics->in_progress() == 0);
  h.service.finish(ex, get("/health", "POST"), 413);
  CHECK(h.metrics->requests(serve::method_index("POST"), h.service.endpoint_index("/health"), 413) == 1);
  CHECK(h.logs().back()["status"] == 413);
}

TEST_CASE("a finished request is counted and logged; /metrics does not count itself") {
  Harness h;
  serve::Exchange health;
  h.service.handle(get("/health"), health);
  CHECK(h.metrics->in_progress() == 1);
  h.service.finish(health, get("/health"), 200);
  CHECK(h.metrics->in_progress() == 0);
  serve::Exchange scrape;
  h.service.handle(get("/metrics"), scrape);
  CHECK_FALSE(scrape.in_progress());
  CHECK(h.metrics->in_progress() == 0);
  h.service.finish(scrape, get("/metrics"), 200);
  CHECK(h.exchange(get("/x/y")) == 404);
  const auto get_i = serve::method_index("GET");
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/health"), 200) == 1);
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/metrics"), 200) == 0);
  CHECK(h.metrics->requests(get_i, h.service.endpoint_index("/x/y"), 404) == 1);
  const auto logs = h.logs();
  REQUIRE(logs.size() == 3);
  CHECK(logs[0]["msg"] == "request");
  CHECK(logs[0]["status"] == 200);
  CHECK(logs[0]["duration_ms"].get<double>() >= 0);  // measured from the exchange's start
  CHECK(logs[0]["duration_ms"].get<double>() < 60'000);
  CHECK(logs[0]["client_ip"] == "127.0.0.1");
  CHECK(logs[0]["user_agent"] == "unit-test");
  CHECK(logs[1]["path"] == "/metrics");  // logged, though not counted
  const auto page = h.answer(get("/metrics"));
  CHECK(page.content_type == serve::kMetricsContentType);
  CHECK(page.body.find("http_requests_total{method=\"GET\",endpoint=\"/health\",status=\"200\"} 1\n") !=
        std::string::npos);
  CHECK(page.body.find("http_requests_total{method=\"GET\",endpoint=\"unknown\",status=\"404\"} 1\n") !=
        std::string::npos);
  CHECK(page.body.find("devops_info_build_info{") != std::string::npos);
}

TEST_CASE("probe switches: start unready or unhealthy, flip at run time; draining wins") {
  core::Switches sw;
  sw.unready = true;
  sw.unhealthy = true;
  Harness h(sw);
  auto r = h.answer(get("/ready"));
  CHECK(r.status == 503);
  CHECK(nlohmann::json::parse(r.body)["status"] == "unready");
  r = h.answer(get("/health"));
  CHECK(r.status == 503);
  CHECK(nlohmann::json::parse(r.body)["status"] == "unhealthy");
  h.service.set_ready(true);
  h.service.set_healthy(true);
  CHECK(h.answer(get("/ready")).status == 200);
  CHECK(h.answer(get("/health")).status == 200);
  h.service.begin_drain();
  CHECK(nlohmann::json::parse(h.answer(get("/ready")).body)["status"] == "draining");
  const auto logs = h.logs();
  REQUIRE(logs.size() == 2);
  CHECK(logs[0]["level"] == "WARNING");
  CHECK(logs[1]["level"] == "WARNING");
}

TEST_CASE("fault injection: delays within bounds, a fraction of errors, counted in /metrics, per route") {
  core::Switches sw;
  sw.faults.push_back({"/health", 20ms, 40ms, 0.0});
  sw.faults.push_back({"/", 5ms, 5ms, 0.5});
  Harness h(sw);
  for (int i = 0; i < 50; ++i) {
    const auto r = h.answer(get("/health"));
    CHECK(r.status == 200);
    CHECK(r.delay >= 20ms);
    CHECK(r.delay <= 40ms);
  }
  int errors = 0;
  for (int i = 0; i < 400; ++i) {
    const auto r = h.answer(get("/"));
    CHECK(r.delay == 5ms);  // a failed one is held too
    if (r.status == 500) ++errors;
  }
  CHECK(errors > 120);  // 0.5 of 400: far outside these bounds only by a broken generator
  CHECK(errors < 280);
  CHECK(h.answer(get("/ready")).delay == 0ms);  // other routes are untouched
  const auto page = h.answer(get("/metrics")).body;
  CHECK(page.find("devops_info_faults_injected_total{endpoint=\"/health\",kind=\"delay\"} 50\n") != std::string::npos);
  CHECK(page.find("devops_info_faults_injected_total{endpoint=\"/\",kind=\"delay\"} 400\n") != std::string::npos);
  CHECK(page.find(fmt::format("devops_info_faults_injected_total{{endpoint=\"/\",kind=\"error\"}} {}\n", errors)) !=
        std::string::npos);
  CHECK(page.find("kind=\"error\"} 0") == std::string::npos);  // /health has no error fault: no series
}

TEST_CASE("no faults: no fault series, no delay") {
  Harness h;
  CHECK(h.answer(get("/")).delay == 0ms);
  CHECK(h.answer(get("/metrics")).body.find("devops_info_faults") == std::string::npos);
}

TEST_CASE("/visits counts GET and HEAD of / and nothing else") {
  const test::TempDir dir;
  Harness h({}, dir.path.string());
  CHECK(nlohmann::json::parse(h.answer(get("/visits")).body)["visits"] == 0);
  h.answer(get("/"));
  h.answer(get("/", "HEAD"));
  h.answer(get("/", "POST"));  // 405: not a visit
  h.answer(get("/health"));
  h.answer(get("/nope"));
  const auto r = h.answer(get("/visits"));
  CHECK(r.status == 200);
  CHECK(r.body == "{\"visits\":2}\n");
  h.service.stop();
  CHECK(test::read_text(dir.path / "visits") == "2\n");
}

TEST_CASE("/visits: 404 without a data directory") {
  Harness h;
  const auto r = h.answer(get("/visits"));
  CHECK(r.status == 404);
  CHECK(nlohmann::json::parse(r.body)["detail"].get<std::string>().find("--data-dir") != std::string::npos);
}

TEST_CASE("InfoDocument's page is the core's page with the per-request values filled") {
  const auto started = test::fixed_now() - 3725s;
  auto collect = [] { return core::collect_report(test::fixture("kubepods-v1"), test::fixed_now(), 7); };
  const core::RequestInfo req{"10.1.2.3", "<b>ua</b>", "GET", "/"};
  for (const bool visits : {false, true}) {
    CAPTURE(visits);
    serve::InfoDocument info(collect, 1s, started, visits);
    const auto now = test::fixed_now() + 500ms;
    const auto page = info.render_html(req, now, 17);
    auto r = collect();
    r.runtime.uptime_seconds = core::elapsed_seconds(started, now);
    r.runtime.uptime_human = core::humanize_uptime(r.runtime.uptime_seconds);
    r.runtime.current_time = core::iso8601_utc(now);
    const auto expected = core::render_html(r, {&req, visits ? std::optional<std::string>("17") : std::nullopt, true});
    CHECK(page.html == expected.html);
    CHECK(page.csp == expected.csp);
    CHECK(page.html.find("&lt;b&gt;ua&lt;/b&gt;") != std::string::npos);
  }
}

namespace {
// A steady clock that moves 5 ms at each reading, and a wall clock fixed at test::fixed_now().
std::chrono::steady_clock::time_point stepping_clock() {
  static auto t = std::chrono::steady_clock::time_point{} + 1000s;
  t += 5ms;
  return t;
}
std::chrono::system_clock::time_point fixed_wall() {
  return test::fixed_now();
}
}  // namespace

TEST_CASE("the service reads injected clocks: exact durations in the log and the metrics, exact timestamps") {
  std::FILE* log_file = std::tmpfile();
  serve::Logger logger{core::LogFormat::JsonLines, core::LogLevel::Info, fileno(log_file)};
  auto metrics = std::make_unique<serve::Metrics>();
  const auto started = test::fixed_now() - 90s;
  serve::InfoDocument info{[] { return core::collect_report(test::fixture("host-v2"), test::fixed_now(), 1); }, 1s,
                           started};
  serve::Service service(info, *metrics, logger, started, {}, nullptr, {&fixed_wall, &stepping_clock});
  const serve::HttpRequest req{"GET", "/health", "127.0.0.1", "clock-test"};
  serve::Exchange ex;
  const auto r = service.handle(req, ex);  // one reading: the start
  service.finish(ex, req, r.status);       // another, 5 ms later
  const auto doc = nlohmann::json::parse(r.body);
  CHECK(doc["timestamp"] == core::iso8601_utc(test::fixed_now()));
  CHECK(doc["uptime_seconds"] == 90);
  std::fflush(log_file);
  std::rewind(log_file);
  char line[4096];
  REQUIRE(std::fgets(line, sizeof line, log_file) != nullptr);
  CHECK(nlohmann::json::parse(line)["duration_ms"] == 5.0);
  std::string out;
  metrics->render(out, service.endpoint_labels());
  // 5 ms is within the first bucket (le 0.005) and the sum is exact.
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/health\",le=\"0.005\"} 1") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_sum{method=\"GET\",endpoint=\"/health\"} 0.005") != std::string::npos);
  std::fclose(log_file);
}

TEST_CASE("/status/{code} and /delay/{duration}: the value from the URL, bad ones a 400, the label the template") {
  Harness h;
  const auto status_route = h.service.endpoint_index("/status/{code}");
  for (const int code : {200, 201, 301, 404, 418, 429, 500, 503, 599}) {
    const auto path = "/status/" + std::to_string(code);
    CHECK(h.service.endpoint_index(path) == status_route);
    const auto r = h.answer(get(path));
    CHECK(r.status == code);
    CHECK(nlohmann::json::parse(r.body)["status"] == code);
  }
  for (const int code : {204, 304}) {  // no content, so no body and no type
    const auto r = h.answer(get("/status/" + std::to_string(code)));
    CHECK(r.status == code);
    CHECK(r.body.empty());
    CHECK(r.content_type.empty());
  }
  for (const char* bad :
       {"/status/199", "/status/600", "/status/20", "/status/2000", "/status/+200", "/status/2x0", "/status/-200"}) {
    INFO(bad);
    CHECK(h.answer(get(bad)).status == 400);
  }
  CHECK(h.service.endpoint_index("/status/") == h.service.endpoint_labels().size() - 1);       // no value: 404
  CHECK(h.service.endpoint_index("/status/200/x") == h.service.endpoint_labels().size() - 1);  // one segment only

  auto r = h.answer(get("/delay/250ms"));
  CHECK(r.status == 200);
  CHECK(r.delay == 250ms);  // held on the loop's timer, not here
  CHECK(nlohmann::json::parse(r.body)["delay_ms"] == 250);
  CHECK(h.answer(get("/delay/10s")).delay == 10s);   // the default cap, exactly
  CHECK(h.answer(get("/delay/11s")).status == 400);  // over it: at once
  CHECK(h.answer(get("/delay/11s")).delay == std::chrono::milliseconds(0));
  CHECK(h.answer(get("/delay/soon")).status == 400);

  core::Switches s;
  s.max_delay = 20s;
  h.service.set_introspection(s);
  CHECK(h.answer(get("/delay/11s")).status == 200);
  s.introspection = false;  // off: as if not there
  h.service.set_introspection(s);
  CHECK(h.answer(get("/status/503")).status == 404);
  CHECK(h.answer(get("/delay/1s")).status == 404);
  CHECK(h.answer(get("/echo")).status == 404);
  CHECK_FALSE(h.service.needs("/echo").body);  // and its body is not kept
  CHECK(h.answer(get("/health")).status == 200);
}

TEST_CASE("POST /echo: the request back, its body as text or base64; what the protocols are asked to keep") {
  Harness h;
  CHECK(h.service.needs("/echo").fields);
  CHECK(h.service.needs("/echo").body == std::uint64_t{1024} * 1024);  // the default --max-body
  CHECK(h.service.needs("/headers").fields);
  CHECK_FALSE(h.service.needs("/headers").body);
  CHECK_FALSE(h.service.needs("/").fields);
  CHECK_FALSE(h.service.needs("/echo/x").body);

  const std::array<serve::HeaderField, 2> fields{{{"Content-Type", "text/plain"}, {"X-A", "1"}}};
  auto req = get("/echo");
  req.method = "PUT";
  req.query = "a=1&b";
  req.fields = fields;
  req.body = "hello \xc3\xa9";
  auto r = h.answer(req);
  CHECK(r.status == 200);
  auto doc = nlohmann::json::parse(r.body);
  CHECK(doc["method"] == "PUT");
  CHECK(doc["query"] == "a=1&b");
  CHECK(doc["headers"]["X-A"] == "1");
  CHECK(doc["body"] == "hello \xc3\xa9");
  CHECK(doc["body_encoding"] == "utf-8");
  CHECK(doc["body_bytes"] == 8);

  const std::string binary("\x00\xff\xfe\x80", 4);
  req.method = "POST";
  req.body = binary;
  doc = nlohmann::json::parse(h.answer(req).body);
  CHECK(doc["body"] == "AP/+gA==");
  CHECK(doc["body_encoding"] == "base64");

  r = h.answer(get("/echo"));  // GET: not allowed, and the answer says what is
  CHECK(r.status == 405);
  CHECK(r.allow == "POST, PUT");
  CHECK(nlohmann::json::parse(r.body)["allowed"] == nlohmann::json::parse(R"(["POST", "PUT"])"));
  req = get("/health");
  req.method = "POST";
  r = h.answer(req);
  CHECK(r.status == 405);
  CHECK(r.allow == "GET, HEAD");
}

TEST_CASE("GET /env: the variables the globs admit, by name, a secret-looking one redacted whatever admits it") {
  const serve::Environment env{{"HOSTNAME", "web-1"},       {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                               {"NODE_NAME", "n1"},         {"PATH", "/bin"},
                               {"POD_API_TOKEN", "s3cr3t"}, {"POD_NAME", "web-1-abc"},
                               {"DB_PASSWORD", "hunter2"}};
  auto doc = serve::select_environment(env, {"POD_*", "NODE_*", "KUBERNETES_*", "HOSTNAME"});
  CHECK(doc["variables"] == nlohmann::json::parse(R"({"HOSTNAME": "web-1", "KUBERNETES_SERVICE_HOST": "10.0.0.1",
      "NODE_NAME": "n1", "POD_API_TOKEN": "<redacted>", "POD_NAME": "web-1-abc"})"));
  CHECK(doc["allowed"] == nlohmann::json::parse(R"(["POD_*", "NODE_*", "KUBERNETES_*", "HOSTNAME"])"));
  doc = serve::select_environment(env, {"*"});  // everything: secrets still hidden
  CHECK(doc["variables"]["DB_PASSWORD"] == "<redacted>");
  CHECK(doc["variables"]["PATH"] == "/bin");
  CHECK(serve::select_environment(env, {})["variables"].empty());
  CHECK(serve::select_environment(env, {"P?TH", "[H]OST*"})["variables"].size() == 2);
}

TEST_CASE("the client behind trusted proxies: the rightmost untrusted address, never one an untrusted peer names") {
  const std::vector<core::Cidr> trusted{*core::parse_cidr("10.0.0.0/8"), *core::parse_cidr("fd00::/8")};
  using serve::client_address;
  // No trusted proxies, or an untrusted peer: the headers are not believed.
  CHECK(client_address("10.0.0.5", "203.0.113.9", "", {}) == "10.0.0.5");
  CHECK(client_address("198.51.100.7", "203.0.113.9", "", trusted) == "198.51.100.7");
  // A trusted peer: the rightmost address that is not trusted.
  CHECK(client_address("10.0.0.5", "203.0.113.9", "", trusted) == "203.0.113.9");
  CHECK(client_address("10.0.0.5", "1.1.1.1, 203.0.113.9, 10.1.1.1", "", trusted) == "203.0.113.9");
  CHECK(client_address("10.0.0.5", "10.2.2.2, 10.1.1.1", "", trusted) == "10.2.2.2");  // all trusted: the leftmost
  // Garbage ends the walk at the last address found: a client cannot name itself past a proxy.
  CHECK(client_address("10.0.0.5", "203.0.113.9, unknown", "", trusted) == "10.0.0.5");
  CHECK(client_address("10.0.0.5", "evil, 10.1.1.1", "", trusted) == "10.1.1.1");
  // Forwarded (RFC 7239) wins over X-Forwarded-For: for=, quoted, bracketed IPv6, ports.
  CHECK(client_address("10.0.0.5", "1.1.1.1", "for=192.0.2.60;proto=http;by=10.0.0.5", trusted) == "192.0.2.60");
  CHECK(client_address("fd00::1", "", R"(for="[2001:db8:cafe::17]:4711", for=10.9.9.9)", trusted) ==
        "2001:db8:cafe::17");
  CHECK(client_address("10.0.0.5", "", "For=192.0.2.61:8080", trusted) == "192.0.2.61");
  CHECK(client_address("10.0.0.5", "", "for=_hidden", trusted) == "10.0.0.5");
  CHECK(client_address("::ffff:10.0.0.5", "203.0.113.9", "", trusted) == "203.0.113.9");
}

TEST_CASE("answers held back are bounded for the whole process: past the bound, 503 at once") {
  Harness h;
  std::vector<serve::Exchange> held(serve::kMaxHeld);
  const auto req = get("/delay/1s");
  for (auto& ex : held) REQUIRE(h.service.handle(req, ex).delay == 1s);
  serve::Exchange over;
  auto r = h.service.handle(req, over);
  CHECK(r.status == 503);
  CHECK(r.delay == 0ms);
  CHECK(r.headers == "Retry-After: 1\r\n");
  CHECK(h.answer(get("/health")).status == 200);  // what is not held is answered as ever
  h.service.finish(held.back(), req, 200);        // one answered: room for one
  held.pop_back();
  serve::Exchange next;
  CHECK(h.service.handle(req, next).delay == 1s);
  held.push_back(std::move(next));
  held.resize(held.size() - 10);  // ten abandoned (their connections closed): room for ten
  for (int i = 0; i < 10; ++i) {
    serve::Exchange ex;
    CHECK(h.service.handle(req, ex).status == 200);
    held.push_back(std::move(ex));
  }
  serve::Exchange again;
  CHECK(h.service.handle(req, again).status == 503);
}
