// The HTTP/1.1 protocol of one connection, on byte strings: framing rules,
// limits, pipelining, held answers. No sockets.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "catch.hpp"
#include "serve/http/kept_body.hpp"
#include "serve/http1/http_protocol.hpp"

using namespace devops::serve;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kDate = "Sun, 29 Nov 2026 20:00:00 GMT";

HttpNow at(SteadyClock::time_point t = SteadyClock::now()) {
  return {t, kDate};
}

// Answers 200 with the path as the body; records what it saw, and counts
// its exchanges in progress as the Service does.
struct FakeService final : HttpService {
  std::vector<std::string> paths;
  std::vector<std::string> methods;
  std::vector<std::string> agents;
  std::vector<std::string> peers;
  std::vector<std::string> bodies;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;  // what each request carried
  std::vector<int> completed;
  std::vector<std::size_t> finished_routes;  // the route each finished exchange carried
  std::chrono::milliseconds delay{0};
  bool drain{false};
  int in_progress{0};
  int abandoned{0};

  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override {
    ex.begin(this, paths.size(), SteadyClock::now());  // the route: the request's number
    ++in_progress;
    paths.emplace_back(req.path);
    methods.emplace_back(req.method);
    agents.emplace_back(req.user_agent);
    peers.emplace_back(req.client_ip);
    bodies.emplace_back(req.body);
    fields.emplace_back();
    for (const auto& f : req.fields) fields.back().emplace_back(f.name, f.value);
    HttpResponse r{200, "text/plain", std::string(req.path), {}, delay};
    if (req.method != "GET" && req.method != "HEAD" && req.path != "/echo") r = {405, "text/plain", "no", "GET, HEAD"};
    return r;
  }
  HttpResponse refuse(int status, const HttpRequest&, Exchange& ex) override {
    ex.begin(nullptr, 999, SteadyClock::now());
    return {status, "text/plain", "refused", {}};
  }
  void finish(Exchange& ex, const HttpRequest&, int status) noexcept override {
    if (ex.end()) --in_progress;
    completed.push_back(status);
    finished_routes.push_back(ex.route());
  }
  bool draining() const override { return drain; }
  // As the Service: the fields of /headers and /echo, and /echo's body up to echo_limit.
  std::uint64_t echo_limit{1000};
  RequestNeeds needs(std::string_view path) const noexcept override {
    if (path == "/headers") return {true, std::nullopt};
    if (path == "/echo") return {true, echo_limit};
    return {};
  }

 private:
  void abandon(const Exchange&) noexcept override {
    --in_progress;
    ++abandoned;
  }
};

struct Result {
  std::string out;
  bool closing{false};
  bool unread{false};
};

// Feeds `input` in pieces of `piece` bytes (0: all at once).
Result feed(FakeService& app, std::string_view input, std::size_t piece = 0, const HttpLimits& limits = {}) {
  HttpProtocol p(limits, app, "192.0.2.7");
  Result r;
  const auto now = at();
  if (piece == 0) piece = input.size() + 1;
  for (std::size_t i = 0; i < input.size(); i += piece) p.receive(input.substr(i, piece), r.out, now);
  r.closing = p.closing();
  r.unread = p.unread_input();
  return r;
}

std::vector<int> statuses(std::string_view out) {
  std::vector<int> s;
  for (auto at = out.find("HTTP/1.1 "); at != std::string_view::npos; at = out.find("HTTP/1.1 ", at + 1)) {
    s.push_back(std::stoi(std::string(out.substr(at + 9, 3))));
  }
  return s;
}

constexpr std::string_view kGet = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

// One connection whose every answer the service holds for a second.
struct Holding {
  explicit Holding(FakeService& service) : app(service) { app.delay = 1000ms; }
  FakeService& app;
  HttpLimits limits;
  HttpProtocol p{limits, app, "192.0.2.7"};
  std::string out;
};

}  // namespace

TEST_CASE("a request gets one answer and the connection stays open") {
  FakeService app;
  const auto r = feed(app, "GET /health?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: probe/1\r\n\r\n");
  CHECK(r.out ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n"
        "Date: Sun, 29 Nov 2026 20:00:00 GMT\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n"
        "\r\n/health");
  CHECK_FALSE(r.closing);
  CHECK(app.agents == std::vector<std::string>{"probe/1"});
  CHECK(app.peers == std::vector<std::string>{"192.0.2.7"});
  CHECK(app.completed == std::vector<int>{200});
  CHECK(app.in_progress == 0);
}

TEST_CASE("a request that arrives a byte at a time is answered the same") {
  FakeService a;
  FakeService b;
  CHECK(feed(a, kGet, 1).out == feed(b, kGet).out);
  CHECK(a.paths == std::vector<std::string>{"/health"});
}

TEST_CASE("100 pipelined requests in one write get 100 answers, in order") {
  std::string in;
  for (int i = 0; i < 100; ++i) in += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t piece : {std::size_t{0}, std::size_t{7}}) {
    FakeService app;
    const auto r = feed(app, in, piece);
    REQUIRE(statuses(r.out).size() == 100);
    REQUIRE(app.paths.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(app.paths[static_cast<std::size_t>(i)] == fmt::format("/{}", i));
    CHECK(r.out.ends_with("\r\n\r\n/99"));
  }
}

TEST_CASE("HTTP/1.0 closes unless it asks for keep-alive; Connection: close closes") {
  FakeService app;
  auto r = feed(app, "GET / HTTP/1.0\r\n\r\n");
  CHECK(r.closing);
  CHECK(r.out.find("Connection: close\r\n") != std::string::npos);
  r = feed(app, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK_FALSE(r.closing);
  CHECK(r.out.find("Connection: keep-alive\r\n") != std::string::npos);
  r = feed(app, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + std::string(kGet));
  CHECK(r.closing);
  CHECK(statuses(r.out) == std::vector<int>{200});  // nothing after a request that closes
}

TEST_CASE("framing that RFC 9112 forbids is refused with 400 and closes") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"Content-Length with Transfer-Encoding",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"Transfer-Encoding with Content-Length",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"},
      {"two different Content-Lengths",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
      {"a bad Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\nabc"},
      {"a negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
      {"white space before the colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  2\r\n\r\n"},
      {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nUser-Agent: a\r\n\r\n"},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
      {"chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"},
      {"a coding without chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
      {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"a bad method token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a bare LF", "GET / HTTP/1.1\nHost: x\n\n"},
      {"a bare LF in a field", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n"},
      {"a control character in a value", std::string("GET / HTTP/1.1\r\nHost: x\r\nA: b\x01\r\n\r\n")},
      {"no version", "GET /\r\nHost: x\r\n\r\n"},
      {"a bad escape in the path", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a NUL in the path", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a target that is no path", "GET health HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"a bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"},
      {"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n"},
  };
  for (const auto& [name, request] : cases) {
    INFO(name);
    FakeService app;
    const auto r = feed(app, request + std::string(kGet));
    CHECK(statuses(r.out) == std::vector<int>{400});
    CHECK(r.out.find("Connection: close\r\n") != std::string::npos);
    CHECK(r.closing);
    CHECK(r.unread);  // the request behind it is not read as a request
    CHECK(app.paths.empty());
    CHECK(app.completed == std::vector<int>{400});
  }
}

TEST_CASE("a valid method token that no route has reaches the application") {
  for (const char* m : {"FOO", "PROPFIND", "get", "DELETE", "CONNECT"}) {
    FakeService app;
    const auto r = feed(app, std::string(m) + " / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(statuses(r.out) == std::vector<int>{405});
    CHECK(r.out.find("Allow: GET, HEAD\r\n") != std::string::npos);
    CHECK_FALSE(r.closing);
  }
}

TEST_CASE("limits: request line 414, header line, field count and head size 431") {
  FakeService app;
  const std::string long_target(8 * 1024, 'a');
  CHECK(statuses(feed(app, "GET /" + long_target + " HTTP/1.1\r\nHost: x\r\n\r\n").out) == std::vector<int>{414});
  // Refused before the line ends: a line feed never sent grows nothing.
  auto r = feed(app, "GET /" + long_target + long_target, 1000);
  CHECK(statuses(r.out) == std::vector<int>{414});
  CHECK(r.closing);
  const std::string long_value(8 * 1024, 'v');
  CHECK(statuses(feed(app, "GET / HTTP/1.1\r\nHost: x\r\nX: " + long_value + "\r\n\r\n").out) == std::vector<int>{431});
  CHECK(statuses(feed(app, "GET / HTTP/1.1\r\nHost: x\r\nX: " + long_value, 500).out) == std::vector<int>{431});
  std::string fields = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 1; i < 100; ++i) fields += "X-" + std::to_string(i) + ": y\r\n";
  CHECK(statuses(feed(app, fields + "\r\n").out) == std::vector<int>{200});  // 100 fields
  CHECK(statuses(feed(app, fields + "X-100: y\r\n\r\n").out) == std::vector<int>{431});
  HttpLimits small;
  small.max_head = 1024;
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i) big += "X-" + std::to_string(i) + ": " + std::string(60, 'z') + "\r\n";
  CHECK(statuses(feed(app, big, 0, small).out) == std::vector<int>{431});
}

TEST_CASE("bodies up to 64 KiB are read and discarded; larger ones are refused at once") {
  FakeService app;
  SECTION("a body by Content-Length, in pieces, then the next request") {
    const auto r =
        feed(app, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789" + std::string(kGet), 3);
    CHECK(statuses(r.out) == std::vector<int>{405, 200});
    CHECK(app.paths == std::vector<std::string>{"/a", "/health"});
  }
  SECTION("a body that looks like a request is not one") {
    const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    feed(app,
         "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
    CHECK(app.paths == std::vector<std::string>{"/"});
  }
  SECTION("a chunked body with an extension, then the next request") {
    const auto r = feed(
        app,
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n" +
            std::string(kGet),
        4);
    CHECK(statuses(r.out) == std::vector<int>{405, 200});
  }
  SECTION("an announced 100 MB body is refused before it is sent") {
    const auto r = feed(app, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n");
    CHECK(statuses(r.out) == std::vector<int>{413});
    CHECK(r.closing);
  }
  SECTION("a chunked body past 64 KiB is refused as it grows") {
    std::string chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i) chunked += "1000\r\n" + std::string(4096, 'b') + "\r\n";
    const auto r = feed(app, chunked, 1500);
    CHECK(statuses(r.out) == std::vector<int>{413});
    CHECK(r.closing);
  }
}

TEST_CASE("a chunked body that arrives a byte at a time") {
  FakeService app;
  const auto r = feed(
      app, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + std::string(kGet),
      1);
  CHECK(statuses(r.out) == std::vector<int>{405, 200});
}

TEST_CASE("Expect: 100-continue gets an interim answer before the body") {
  FakeService app;
  const HttpLimits limits;
  HttpProtocol p(limits, app, "192.0.2.7");
  std::string out;
  p.receive("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", out, at());
  CHECK(out == "HTTP/1.1 100 Continue\r\n\r\n");
  CHECK(p.mid_request());
  p.receive("ab", out, at());
  CHECK(statuses(out) == std::vector<int>{100, 405});
}

TEST_CASE("HEAD has the length of GET and no body; empty lines before a request are skipped") {
  FakeService app;
  const auto r = feed(app, "\r\n\r\nHEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.out.find("Content-Length: 7\r\n") != std::string::npos);
  CHECK(r.out.ends_with("\r\n\r\n"));
}

TEST_CASE("another major version than 1 gets 505") {
  FakeService app;
  CHECK(statuses(feed(app, "GET / HTTP/2.0\r\nHost: x\r\n\r\n").out) == std::vector<int>{505});
  CHECK(statuses(feed(app, "GET / HTTP/0.9\r\nHost: x\r\n\r\n").out) == std::vector<int>{505});
  CHECK(statuses(feed(app, "GET / HTTP/3.1\r\nHost: x\r\n\r\n").out) == std::vector<int>{505});
  CHECK(app.paths.empty());
}

TEST_CASE("a higher minor version of HTTP/1 is answered as HTTP/1.1 (RFC 9110 2.5)") {
  for (const char* version : {"1.2", "1.9"}) {
    SECTION(version) {
      FakeService app;
      const auto r = feed(app, std::string("GET /health HTTP/") + version + "\r\nHost: x\r\n\r\n");
      CHECK(statuses(r.out) == std::vector<int>{200});
      CHECK(r.out.starts_with("HTTP/1.1 200 "));
      CHECK(r.out.find("Connection: close") == std::string::npos);  // kept alive, as 1.1
      CHECK(app.paths == std::vector<std::string>{"/health"});
    }
  }
  FakeService app;  // as 1.1, it needs its Host
  CHECK(statuses(feed(app, "GET / HTTP/1.2\r\n\r\n").out) == std::vector<int>{400});
}

TEST_CASE("targets are decoded") {
  FakeService app;
  feed(app, "GET /he%61lth?q=%zz HTTP/1.1\r\nHost: x\r\n\r\n");
  feed(app, "GET http://example.test/ready?x HTTP/1.1\r\nHost: x\r\n\r\n");
  feed(app, "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(app.paths == std::vector<std::string>{"/health", "/ready", "*"});
}

TEST_CASE("a held answer waits, and so do the requests behind it") {
  FakeService app;
  Holding c(app);
  const auto now = SteadyClock::now();
  c.p.receive(std::string(kGet) + "GET /second HTTP/1.1\r\nHost: x\r\n\r\n", c.out, at(now));
  CHECK(c.out.empty());
  CHECK(c.p.holding());
  CHECK(c.p.release_at() == now + 1000ms);
  CHECK_FALSE(c.p.wants_input(0));
  CHECK(app.in_progress == 1);
  app.delay = 0ms;
  c.p.release(c.out, at(now + 1000ms));
  CHECK(statuses(c.out) == std::vector<int>{200, 200});
  CHECK(c.out.ends_with("/second"));
  CHECK(c.p.idle());
  CHECK(app.in_progress == 0);
  CHECK(app.abandoned == 0);
}

TEST_CASE("each request is one exchange, from the service's first look to its answer") {
  FakeService app;
  const auto r = feed(app, std::string(kGet) + "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
  CHECK(statuses(r.out) == std::vector<int>{200, 200, 400});
  CHECK(app.paths.size() == 2);                                       // the refused one was never handled
  CHECK(app.finished_routes == std::vector<std::size_t>{0, 1, 999});  // each finished with its own route
  CHECK(app.in_progress == 0);
}

TEST_CASE("a held answer whose connection closes first is no longer in progress") {
  FakeService app;
  {
    Holding c(app);
    c.p.receive(kGet, c.out, at());
    REQUIRE(c.p.holding());
    CHECK(app.in_progress == 1);
  }  // the connection closes: its protocol, and the held exchange, go
  CHECK(app.in_progress == 0);
  CHECK(app.abandoned == 1);
  CHECK(app.completed.empty());  // never answered, never logged
}

TEST_CASE("draining: every answer closes") {
  FakeService app;
  app.drain = true;
  const auto r = feed(app, std::string(kGet) + std::string(kGet));
  CHECK(statuses(r.out) == std::vector<int>{200});
  CHECK(r.closing);
}

TEST_CASE("the last request a connection may make closes it") {
  FakeService app;
  HttpLimits limits;
  limits.max_requests = 3;
  std::string in;
  for (int i = 0; i < 5; ++i) in += kGet;
  const auto r = feed(app, in, 0, limits);
  CHECK(statuses(r.out) == std::vector<int>{200, 200, 200});
  CHECK(r.closing);
}

TEST_CASE("answers beyond the output limit wait for resume()") {
  FakeService app;
  HttpLimits limits;
  limits.max_output = 1000;
  HttpProtocol p(limits, app, "192.0.2.7");
  std::string in;
  for (int i = 0; i < 50; ++i) in += kGet;
  std::string out;
  p.receive(in, out, at());
  const auto first = statuses(out).size();
  CHECK(first < 50);
  CHECK_FALSE(p.wants_input(out.size()));
  std::size_t total = first;
  for (int round = 0; round < 100 && total < 50; ++round) {
    out.clear();
    p.resume(out, at());
    total += statuses(out).size();
  }
  CHECK(total == 50);
  CHECK(p.idle());
}

TEST_CASE("the header fields are kept for a request to /headers only, in order, repeated ones too") {
  const HttpLimits limits;
  FakeService app;
  HttpProtocol p(limits, app, "192.0.2.7");
  std::string out;
  p.receive(
      "GET /headers?x=1 HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nx-a: 2\r\nUser-Agent: u\r\n\r\n"
      "GET /health HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n",
      out, at());
  REQUIRE(app.fields.size() == 2);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  CHECK(app.fields[0] == Fields{{"Host", "t"}, {"X-A", "1"}, {"x-a", "2"}, {"User-Agent", "u"}});
  CHECK(app.fields[1].empty());  // another path pays nothing for them
}

TEST_CASE("a body is kept for a route that asks for it, whole in any split, within its limit and the process's") {
  const std::string post = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
  const std::string chunked =
      "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  for (const auto* input : {&post, &chunked}) {
    for (const std::size_t piece : {0UL, 1UL, 3UL, 7UL}) {
      FakeService app;
      const auto r = feed(app, *input + std::string(kGet), piece);
      INFO(*input << " in pieces of " << piece);
      CHECK(statuses(r.out) == std::vector<int>{200, 200});
      REQUIRE(app.bodies.size() == 2);
      CHECK(app.bodies[0] == "hello world");
      CHECK(app.bodies[1].empty());
      CHECK(app.fields[0].size() >= 2);
    }
  }
  CHECK(KeptBody::in_use() == 0);  // every kept byte given back with its request

  // Another route's body is read and dropped, never handed on.
  FakeService app;
  feed(app, "POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
  REQUIRE(app.bodies.size() == 1);
  CHECK(app.bodies[0].empty());

  // Over the route's limit (1000 here): 413, by Content-Length at once, chunked when it is passed.
  app.completed.clear();
  auto r = feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
  CHECK(statuses(r.out) == std::vector<int>{413});
  CHECK(r.closing);
  r = feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + std::string(1001, 'x'));
  CHECK(statuses(r.out) == std::vector<int>{413});
  // A limit of 0: no body at all.
  app.echo_limit = 0;
  CHECK(statuses(feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx").out) ==
        std::vector<int>{413});
  CHECK(statuses(feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").out) ==
        std::vector<int>{200});

  // The process's budget: a body that would pass it is refused with 503.
  HttpLimits tight;
  tight.max_kept_bodies = 100;
  app.echo_limit = 1000;
  r = feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'x'), 0, tight);
  CHECK(statuses(r.out) == std::vector<int>{503});
  r = feed(app, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'x'), 0, tight);
  CHECK(statuses(r.out) == std::vector<int>{200});
  CHECK(KeptBody::in_use() == 0);

  // The body and its answer stay counted until the engine resumes, all
  // output written: a client that never reads cannot pile answers up.
  HttpProtocol p(tight, app, "192.0.2.7");
  std::string out;
  p.receive("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n" + std::string(60, 'x'), out, at());
  CHECK(statuses(out) == std::vector<int>{200});
  CHECK(KeptBody::in_use() >= 60 + out.size());
  p.receive("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n" + std::string(60, 'x'), out, at());
  CHECK(statuses(out) == std::vector<int>{200, 503});  // over the budget while the first is unwritten
  out.clear();
  HttpProtocol q(tight, app, "192.0.2.8");
  q.receive("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n" + std::string(60, 'x'), out, at());
  CHECK(statuses(out) == std::vector<int>{503});  // another connection too
}

TEST_CASE("a kept body's answer is uncounted once written") {
  FakeService app;
  HttpLimits tight;
  tight.max_kept_bodies = 100;
  HttpProtocol p(tight, app, "192.0.2.7");
  std::string out;
  const std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 60\r\n\r\n" + std::string(60, 'x');
  p.receive(req, out, at());
  CHECK(KeptBody::in_use() > 0);
  out.clear();
  p.resume(out, at());
  CHECK(KeptBody::in_use() == 0);
  p.receive(req, out, at());
  CHECK(statuses(out) == std::vector<int>{200});
}
