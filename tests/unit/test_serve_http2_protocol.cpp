// HTTP/2 on one connection, on byte strings: an nghttp2 client session in
// the same process is the peer. Prior knowledge and Upgrade, input split at
// every byte, held streams, limits, gRPC framing, Watch streams, the frame
// budget and the drain. No sockets.
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "catch.hpp"
#include "serve/http/kept_body.hpp"
#include "serve/http2/cleartext_protocol.hpp"

using namespace devops::serve;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kDate = "Sun, 29 Nov 2026 20:00:00 GMT";
const SteadyClock::time_point kT0 = SteadyClock::time_point{} + 1000s;

HttpNow at(SteadyClock::time_point t = kT0) {
  return {t, kDate};
}

// Answers 200 with the path as the body (a gRPC call: SERVING, or NOT_FOUND
// for /Unknown; a Watch stays open and says `status`); records what it saw.
struct FakeService final : HttpService {
  std::vector<std::string> paths, protocols, bodies;
  std::vector<std::vector<std::pair<std::string, std::string>>> fields;
  std::vector<int> completed;
  std::map<std::string, std::chrono::milliseconds> delays;
  int in_progress{0};
  bool drain{false};
  char status{1};
  std::uint64_t changed{0};

  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override {
    ex.begin(this, paths.size(), SteadyClock::now());
    ++in_progress;
    paths.emplace_back(req.path);
    protocols.emplace_back(req.protocol);
    bodies.emplace_back(req.body);
    fields.emplace_back();
    for (const auto& f : req.fields) fields.back().emplace_back(f.name, f.value);
    HttpResponse r{200, "text/plain", std::string(req.path), {}};
    r.headers = "Vary: Accept\r\n";
    if (const auto d = delays.find(std::string(req.path)); d != delays.end()) r.delay = d->second;
    if (req.grpc) {
      r.headers.clear();
      if (req.path.ends_with("/Unknown")) {
        r.body.clear();
        r.grpc = {5, "unknown service \"x\""};
      } else {
        r.body = std::string{'\x08', status};
        r.open_stream = req.path.ends_with("/Watch");
      }
    }
    return r;
  }
  HttpResponse follow(const HttpRequest&) noexcept override {
    HttpResponse r;
    r.body = std::string{'\x08', drain ? '\x02' : status};
    r.open_stream = !drain;
    if (drain) r.grpc = {14, "shutting down"};
    return r;
  }
  std::uint64_t changes() const override { return changed; }
  HttpResponse refuse(int status_code, const HttpRequest&, Exchange& ex) override {
    ex.begin(nullptr, 999, SteadyClock::now());
    return {status_code, "text/plain", "refused", {}};
  }
  void finish(Exchange& ex, const HttpRequest&, int s) noexcept override {
    if (ex.end()) --in_progress;
    completed.push_back(s);
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
  void abandon(const Exchange&) noexcept override { --in_progress; }
};

// What the client received on one stream.
struct Answer {
  std::map<std::string, std::string> headers, trailers;
  std::string body;
  bool closed{false};
  std::uint32_t error{0};
};

// An nghttp2 client session, on memory buffers.
struct Client {
  nghttp2_session* s{nullptr};
  std::map<std::int32_t, Answer> answers;
  bool goaway{false};
  std::uint32_t goaway_code{0};
  std::int32_t goaway_last{0};

  explicit Client(std::vector<nghttp2_settings_entry> settings = {}) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nl, const std::uint8_t* v,
               std::size_t vl, std::uint8_t, void* p) {
          auto& a = static_cast<Client*>(p)->answers[f->hd.stream_id];
          auto& to = f->headers.cat == NGHTTP2_HCAT_HEADERS ? a.trailers : a.headers;
          to[std::string(reinterpret_cast<const char*>(n), nl)] = std::string(reinterpret_cast<const char*>(v), vl);
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t n, void* p) {
          static_cast<Client*>(p)->answers[id].body.append(reinterpret_cast<const char*>(d), n);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, std::int32_t id, std::uint32_t e, void* p) {
          auto& a = static_cast<Client*>(p)->answers[id];
          a.closed = true;
          a.error = e;
          return 0;
        });
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, [](nghttp2_session*, const nghttp2_frame* f, void* p) {
      if (f->hd.type == NGHTTP2_GOAWAY) {
        auto* c = static_cast<Client*>(p);
        c->goaway = true;
        c->goaway_code = f->goaway.error_code;
        c->goaway_last = f->goaway.last_stream_id;
      }
      return 0;
    });
    nghttp2_session_client_new(&s, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~Client() { nghttp2_session_del(s); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  std::int32_t request(std::string_view method, std::string_view path,
                       std::vector<std::pair<std::string, std::string>> extra = {}, const std::string* body = nullptr) {
    std::vector<std::pair<std::string, std::string>> h{
        {":method", std::string(method)}, {":scheme", "http"}, {":authority", "test"}, {":path", std::string(path)}};
    for (auto& e : extra) h.push_back(e);
    std::vector<nghttp2_nv> nva;
    for (auto& [n, v] : h) {
      nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()), reinterpret_cast<std::uint8_t*>(v.data()), n.size(),
                     v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider prd{};
    prd.source.ptr = const_cast<std::string*>(body);
    prd.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len, std::uint32_t* flags,
                           nghttp2_data_source* src, void*) -> ssize_t {
      auto* b = static_cast<std::string*>(src->ptr);
      const auto n = std::min(len, b->size());
      std::copy_n(b->data(), n, buf);
      b->erase(0, n);
      if (b->empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    };
    return nghttp2_submit_request(s, nullptr, nva.data(), nva.size(), body != nullptr ? &prd : nullptr, nullptr);
  }
  std::string take() {
    std::string out;
    const std::uint8_t* d = nullptr;
    ssize_t n = 0;
    while ((n = nghttp2_session_mem_send(s, &d)) > 0)
      out.append(reinterpret_cast<const char*>(d), static_cast<std::size_t>(n));
    return out;
  }
  void give(std::string_view in) {
    REQUIRE(nghttp2_session_mem_recv(s, reinterpret_cast<const std::uint8_t*>(in.data()), in.size()) ==
            static_cast<ssize_t>(in.size()));
  }
};

// Moves bytes both ways until neither side has more; the server's input in
// pieces of `piece` bytes.
void pump(ConnProtocol& server, Client& client, const HttpNow& now = at(), std::size_t piece = 0) {
  for (int round = 0; round < 50; ++round) {
    const auto in = client.take();
    std::string out;
    if (piece == 0) {
      server.receive(in, out, now);
    } else {
      for (std::size_t i = 0; i < in.size(); i += piece)
        server.receive(std::string_view(in).substr(i, piece), out, now);
    }
    server.resume(out, now);
    if (in.empty() && out.empty()) return;
    client.give(out);
  }
}

std::string grpc_frame(std::string_view m) {
  std::string f(5, '\0');
  f[4] = static_cast<char>(m.size());
  return f + std::string(m);
}

const std::vector<std::pair<std::string, std::string>> kGrpcHeaders{{"content-type", "application/grpc"},
                                                                    {"te", "trailers"}};

}  // namespace

TEST_CASE("HTTP/2 by prior knowledge: the same answer as over HTTP/1.1, at every split of the input") {
  HttpLimits limits;
  for (const std::size_t piece : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{23}}) {
    FakeService app;
    CleartextProtocol p(limits, app, "192.0.2.7");
    Client c;
    const auto id = c.request("GET", "/health?x=1", {{"user-agent", "h2-test"}});
    pump(p, c, at(), piece);
    const auto& a = c.answers[id];
    CHECK(a.closed);
    CHECK(a.headers.at(":status") == "200");
    CHECK(a.headers.at("content-type") == "text/plain");
    CHECK(a.headers.at("content-length") == "7");
    CHECK(a.headers.at("date") == kDate);
    CHECK(a.headers.at("x-content-type-options") == "nosniff");
    CHECK(a.headers.at("cache-control") == "no-store");
    CHECK(a.headers.at("vary") == "Accept");  // the service's own header lines, lower-cased
    CHECK(a.body == "/health");
    REQUIRE(app.protocols.size() == 1);
    CHECK(app.protocols[0] == "HTTP/2");
    CHECK(app.in_progress == 0);
    CHECK(p.http2());
    CHECK(p.state(0).idle);
  }
}

TEST_CASE("a connection that only begins like the preface is HTTP/1.1") {
  HttpLimits limits;
  FakeService app;
  CleartextProtocol p(limits, app, "192.0.2.7");
  std::string out;
  p.receive("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", out, at());
  CHECK(out.starts_with("HTTP/1.1 505"));
  CHECK_FALSE(p.http2());

  SECTION("a trickled preface is a request arriving, under its deadline") {
    CleartextProtocol q(limits, app, "192.0.2.8");
    std::string o;
    q.receive("PRI * HT", o, at());
    const auto st = q.state(0);
    CHECK(st.mid_request);
    CHECK(st.request_started == kT0);
    CHECK(o.empty());
  }
}

TEST_CASE("Upgrade: h2c: 101, then the request answered on stream 1 over HTTP/2") {
  HttpLimits limits;
  FakeService app;
  CleartextProtocol p(limits, app, "192.0.2.7");
  Client c;
  std::array<std::uint8_t, 64> payload{};
  const nghttp2_settings_entry iv{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100};
  const auto n = nghttp2_pack_settings_payload(payload.data(), payload.size(), &iv, 1);
  REQUIRE(n > 0);
  REQUIRE(nghttp2_session_upgrade2(c.s, payload.data(), static_cast<std::size_t>(n), 0, nullptr) == 0);
  // base64url of the payload, no padding
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string b64;
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); i += 3) {
    const std::uint32_t v = (std::uint32_t{payload[i]} << 16) | (std::uint32_t{payload[i + 1]} << 8) | payload[i + 2];
    b64 += kB64[(v >> 18) & 63];
    b64 += kB64[(v >> 12) & 63];
    b64 += kB64[(v >> 6) & 63];
    b64 += kB64[v & 63];
  }
  const std::string head =
      "GET /ready HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " +
      b64 + "\r\n\r\n";
  std::string out;
  p.receive(head + c.take(), out, at());
  const std::string_view switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";
  REQUIRE(out.starts_with(switching));
  CHECK(p.http2());
  c.give(std::string_view(out).substr(switching.size()));
  pump(p, c);
  CHECK(c.answers[1].headers.at(":status") == "200");
  CHECK(c.answers[1].body == "/ready");
  // and the connection goes on over HTTP/2
  const auto id = c.request("GET", "/health");
  pump(p, c);
  CHECK(c.answers[id].body == "/health");

  SECTION("without HTTP2-Settings in Connection, the request is answered over HTTP/1.1") {
    FakeService app2;
    CleartextProtocol q(limits, app2, "192.0.2.7");
    std::string o;
    q.receive(
        "GET /ready HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: " + b64 + "\r\n\r\n",
        o, at());
    CHECK(o.starts_with("HTTP/1.1 200"));
    CHECK_FALSE(q.http2());
  }
  SECTION("a malformed HTTP2-Settings is answered over HTTP/1.1") {
    FakeService app2;
    CleartextProtocol q(limits, app2, "192.0.2.7");
    std::string o;
    q.receive(
        "GET /ready HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        "HTTP2-Settings: !!!\r\n\r\n",
        o, at());
    CHECK(o.starts_with("HTTP/1.1 200"));
    CHECK_FALSE(q.http2());
  }
}

TEST_CASE("streams: a held answer holds only its stream") {
  HttpLimits limits;
  FakeService app;
  app.delays["/slow"] = 1500ms;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  const auto slow = c.request("GET", "/slow");
  const auto fast = c.request("GET", "/health");
  pump(p, c);
  CHECK(c.answers[fast].body == "/health");
  CHECK_FALSE(c.answers[slow].closed);
  auto st = p.state(0);
  CHECK(st.holding);
  CHECK(st.release_at == kT0 + 1500ms);
  CHECK(app.in_progress == 1);
  std::string out;
  p.release(out, at(kT0 + 1500ms));
  c.give(out);
  CHECK(c.answers[slow].body == "/slow");
  CHECK(app.in_progress == 0);
  CHECK_FALSE(p.state(0).holding);

  SECTION("a stream reset while held is abandoned, not answered") {
    Http2Protocol q(limits, app, "192.0.2.7", at());
    Client d;
    const auto id = d.request("GET", "/slow");
    pump(q, d);
    CHECK(app.in_progress == 1);
    nghttp2_submit_rst_stream(d.s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump(q, d);
    CHECK(app.in_progress == 0);
    CHECK_FALSE(q.state(0).holding);
  }
}

TEST_CASE("limits: a header list over the limit is 431, a body over it 413; the connection goes on") {
  HttpLimits limits;
  limits.max_fields = 10;
  limits.max_body = 1000;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 20; ++i) many.emplace_back("x-h" + std::to_string(i), "v");
  const auto big_head = c.request("GET", "/health", many);
  std::string body(5000, 'b');
  const auto big_body = c.request("POST", "/health", {}, &body);
  pump(p, c);
  CHECK(c.answers[big_head].headers.at(":status") == "431");
  CHECK(c.answers[big_body].headers.at(":status") == "413");
  const auto ok = c.request("GET", "/health");
  pump(p, c);
  CHECK(c.answers[ok].headers.at(":status") == "200");
  CHECK_FALSE(c.goaway);
}

TEST_CASE("HTTP/2: a body is kept for a route that asks for it, within its limit and the process's") {
  HttpLimits limits;
  limits.max_kept_bodies = 2500;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  // (The client's data source consumes each string it sends.)
  const std::string hello = "hello world";
  std::string bodies[] = {hello,
                          hello,
                          std::string(1001, 'x'),
                          std::string(1000, 'y'),
                          std::string(1000, 'y'),
                          std::string(1000, 'y'),
                          std::string(1001, 'z')};
  const auto echo = c.request("POST", "/echo", {{"content-type", "text/plain"}}, &bodies[0]);
  const auto other = c.request("POST", "/health", {}, &bodies[1]);
  const auto over = c.request("PUT", "/echo", {}, &bodies[2]);  // over /echo's 1000
  const auto announced = c.request("POST", "/echo", {{"content-length", "1001"}}, &bodies[6]);
  pump(p, c);
  CHECK(c.answers[announced].headers.at(":status") == "413");  // at the head, before any DATA
  CHECK(c.answers[echo].headers.at(":status") == "200");
  CHECK(c.answers[other].headers.at(":status") == "200");
  CHECK(c.answers[over].headers.at(":status") == "413");
  REQUIRE(app.bodies.size() == 2);
  CHECK(app.bodies[0] == hello);
  CHECK(app.bodies[1].empty());  // another route's body: read and dropped
  CHECK(app.fields[0] == std::vector<std::pair<std::string, std::string>>{{"content-type", "text/plain"}});
  CHECK(KeptBody::in_use() == 0);

  // Three held at once pass the process's budget (2500): the third is refused 503.
  app.delays["/echo"] = 1s;
  const auto a = c.request("POST", "/echo", {}, &bodies[3]);
  const auto b = c.request("POST", "/echo", {}, &bodies[4]);
  const auto d = c.request("POST", "/echo", {}, &bodies[5]);
  pump(p, c);
  CHECK(c.answers[d].headers.at(":status") == "503");
  CHECK(KeptBody::in_use() == 2000);
  std::string out;
  p.release(out, at(kT0 + 2s));
  c.give(out);
  pump(p, c);
  CHECK(c.answers[a].headers.at(":status") == "200");
  CHECK(c.answers[b].headers.at(":status") == "200");
  CHECK(KeptBody::in_use() == 0);
  CHECK_FALSE(c.goaway);
}

TEST_CASE("more streams than SETTINGS_MAX_CONCURRENT_STREAMS are refused") {
  HttpLimits limits;
  limits.max_streams = 2;
  FakeService app;
  app.delays["/slow"] = 1s;  // held: the streams stay open
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  // Sent before the client has seen the server's SETTINGS: it does not know the limit yet.
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(c.request("GET", "/slow"));
  pump(p, c);
  CHECK(app.paths.size() == 2);
  CHECK(p.open_streams() == 2);
  for (int i = 2; i < 4; ++i) {
    CHECK(c.answers[ids[static_cast<std::size_t>(i)]].closed);
    CHECK(c.answers[ids[static_cast<std::size_t>(i)]].error == NGHTTP2_REFUSED_STREAM);
  }
  CHECK_FALSE(c.goaway);
}

TEST_CASE("gRPC: the message unframed for the service, the answer framed with its status in trailers") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  std::string req = grpc_frame(
      "\x0a\x03"
      "api");
  const auto check = c.request("POST", "/grpc.health.v1.Health/Check", kGrpcHeaders, &req);
  std::string req2 = grpc_frame("");
  const auto unknown = c.request("POST", "/grpc.health.v1.Health/Unknown", kGrpcHeaders, &req2);
  std::string compressed = std::string("\x01\0\0\0\0", 5);
  const auto bad = c.request("POST", "/grpc.health.v1.Health/Check", kGrpcHeaders, &compressed);
  pump(p, c);
  const auto& a = c.answers[check];
  CHECK(a.headers.at(":status") == "200");
  CHECK(a.headers.at("content-type") == "application/grpc");
  CHECK(a.body == grpc_frame("\x08\x01"));
  CHECK(a.trailers.at("grpc-status") == "0");
  REQUIRE(app.bodies.size() >= 1);
  CHECK(app.bodies[0] ==
        "\x0a\x03"
        "api");
  // trailers-only: one HEADERS frame with the status, no DATA
  const auto& u = c.answers[unknown];
  CHECK(u.headers.at("grpc-status") == "5");
  CHECK(u.headers.at("grpc-message") == "unknown service \"x\"");
  CHECK(u.body.empty());
  CHECK(c.answers[bad].headers.at("grpc-status") == "13");
}

TEST_CASE("gRPC Watch: the status at once, each change when told, NOT_SERVING and UNAVAILABLE at the drain") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  std::string req = grpc_frame("");
  const auto w = c.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &req);
  pump(p, c);
  CHECK(c.answers[w].body == grpc_frame("\x08\x01"));
  CHECK_FALSE(c.answers[w].closed);
  auto st = p.state(0);
  CHECK(st.streaming);
  CHECK_FALSE(st.idle);
  CHECK_FALSE(st.stalled);

  std::string out;
  p.notify(out, at());  // nothing changed: nothing said
  CHECK(out.empty());
  app.status = 2;
  ++app.changed;
  p.notify(out, at());
  c.give(out);
  CHECK(c.answers[w].body == grpc_frame("\x08\x01") + grpc_frame("\x08\x02"));

  app.drain = true;
  out.clear();
  CHECK_FALSE(p.drain(out, at()));
  c.give(out);
  pump(p, c);
  CHECK(c.answers[w].closed);
  CHECK(c.answers[w].trailers.at("grpc-status") == "14");
  CHECK(c.goaway);
  CHECK(c.goaway_code == NGHTTP2_NO_ERROR);
  CHECK(p.state(0).closing);
}

TEST_CASE("a flood of PINGs spends the frame budget: GOAWAY ENHANCE_YOUR_CALM") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  for (int round = 0; round < 12; ++round) {  // read a hundred at a time, so that the ACKs never queue up
    for (int i = 0; i < 100; ++i) nghttp2_submit_ping(c.s, NGHTTP2_FLAG_NONE, nullptr);
    pump(p, c);
  }
  CHECK(p.counters().calmed);
  CHECK(c.goaway);
  CHECK(c.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
  CHECK(p.state(0).closing);

  SECTION("a flood in one read: nghttp2's limit of queued ACKs closes the connection") {
    Http2Protocol q(limits, app, "192.0.2.7", at());
    Client d;
    for (int i = 0; i < 1200; ++i) nghttp2_submit_ping(d.s, NGHTTP2_FLAG_NONE, nullptr);
    std::string out;
    q.receive(d.take(), out, at());
    CHECK(q.state(0).closing);
  }
  SECTION("the budget comes back with time: fifty pings a second never run out") {
    Http2Protocol q(limits, app, "192.0.2.7", at());
    Client d;
    for (int i = 0; i < 3000; ++i) {
      nghttp2_submit_ping(d.s, NGHTTP2_FLAG_NONE, nullptr);
      pump(q, d, at(kT0 + std::chrono::milliseconds(i * 20)));
    }
    CHECK_FALSE(q.counters().calmed);
    CHECK_FALSE(d.goaway);
  }
}

TEST_CASE("a shut flow-control window stalls the answer: the write deadline runs") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  const auto id = c.request("GET", "/a-path-with-a-body");
  pump(p, c);
  CHECK(c.answers[id].headers.at(":status") == "200");
  CHECK(c.answers[id].body.empty());
  CHECK(p.state(0).stalled);
}

TEST_CASE("protocol errors are answered with the right frame: a bad preface, a frame on stream 0") {
  HttpLimits limits;
  FakeService app;
  SECTION("DATA on stream 0: GOAWAY PROTOCOL_ERROR, then close") {
    Http2Protocol p(limits, app, "192.0.2.7", at());
    Client c;
    std::string out;
    std::string in = c.take();
    in += std::string("\0\0\1\0\0\0\0\0\0x", 10);  // DATA, length 1, stream 0
    p.receive(in, out, at());
    c.give(out);
    CHECK(c.goaway);
    CHECK(c.goaway_code == NGHTTP2_PROTOCOL_ERROR);
    CHECK(p.state(0).closing);
  }
  SECTION("not the client preface: closed without a word") {
    Http2Protocol p(limits, app, "192.0.2.7", at());
    std::string out;
    p.receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n", out, at());
    CHECK(p.state(0).closing);
  }
}

TEST_CASE(
    "Watch calls past max_watches in the process end with RESOURCE_EXHAUSTED; a closed one gives its place back") {
  HttpLimits limits;
  limits.max_watches = Http2Protocol::watches_open() + 2;  // two more, whatever other tests left open
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Http2Protocol q(limits, app, "192.0.2.8", at());  // the count is the process's, not a connection's
  Client c;
  Client d;
  std::string m1 = grpc_frame(""), m2 = grpc_frame(""), m3 = grpc_frame(""), m4 = grpc_frame("");
  const auto w1 = c.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &m1);
  const auto w2 = c.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &m2);
  pump(p, c);
  const auto w3 = d.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &m3);
  pump(q, d);
  CHECK_FALSE(c.answers[w1].closed);
  CHECK_FALSE(c.answers[w2].closed);
  CHECK(d.answers[w3].closed);
  CHECK(d.answers[w3].headers.at("grpc-status") == "8");
  nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, w1, NGHTTP2_CANCEL);  // the client ends one
  pump(p, c);
  const auto w4 = d.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &m4);
  pump(q, d);
  CHECK_FALSE(d.answers[w4].closed);
  CHECK(d.answers[w4].body == grpc_frame("\x08\x01"));
}

TEST_CASE("a Watch whose client keeps its window shut holds one message, the latest") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0}});
  std::string m = grpc_frame("");
  const auto w = c.request("POST", "/grpc.health.v1.Health/Watch", kGrpcHeaders, &m);
  pump(p, c);
  CHECK(c.answers[w].body.empty());  // nothing may be sent yet
  for (char status : {'\x02', '\x01', '\x02', '\x02', '\x01', '\x02'}) {
    app.status = status;
    ++app.changed;
    std::string out;
    p.notify(out, at());
    c.give(out);
  }
  nghttp2_submit_window_update(c.s, NGHTTP2_FLAG_NONE, w, 1 << 16);  // now the client reads
  pump(p, c);
  CHECK(c.answers[w].body == grpc_frame("\x08\x02"));  // the last status, once
}

namespace {

std::string raw_frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream, std::string_view payload) {
  std::string f;
  const auto n = static_cast<std::uint32_t>(payload.size());
  f += static_cast<char>((n >> 16) & 0xff);
  f += static_cast<char>((n >> 8) & 0xff);
  f += static_cast<char>(n & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) f += static_cast<char>((stream >> shift) & 0xff);
  f += payload;
  return f;
}

std::string u32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xff), static_cast<char>((v >> 8) & 0xff),
          static_cast<char>(v & 0xff)};
}

// A GET of / on stream `id` (HPACK: the static table's :method GET, :scheme
// http, :path /, and :authority "t" without indexing).
std::string get_block() {
  return std::string("\x82\x86\x84\x01\x01t", 6);
}

struct Heard {
  std::int64_t goaway{-1};                     // its error code; -1: none
  std::map<std::uint32_t, std::uint32_t> rst;  // stream: error code
  std::map<std::uint32_t, bool> headers;       // streams answered with HEADERS
};

// The server's frames, read by hand (no client session: some of these
// answers, e.g. RST_STREAM of a stream the client never opened properly,
// a client session would refuse itself).
Heard hear(std::string_view out) {
  Heard h;
  std::size_t pos = 0;
  while (pos + 9 <= out.size()) {
    const auto len = (std::size_t{static_cast<unsigned char>(out[pos])} << 16) |
                     (std::size_t{static_cast<unsigned char>(out[pos + 1])} << 8) |
                     static_cast<unsigned char>(out[pos + 2]);
    const auto type = static_cast<unsigned char>(out[pos + 3]);
    std::uint32_t stream = 0;
    for (int i = 5; i < 9; ++i)
      stream = (stream << 8) | static_cast<unsigned char>(out[pos + static_cast<std::size_t>(i)]);
    stream &= 0x7fffffffU;
    if (pos + 9 + len > out.size()) break;
    const auto payload = out.substr(pos + 9, len);
    auto code = [&](std::size_t at) {
      std::uint32_t c = 0;
      for (std::size_t i = at; i < at + 4; ++i) c = (c << 8) | static_cast<unsigned char>(payload[i]);
      return c;
    };
    if (type == NGHTTP2_GOAWAY && len >= 8) h.goaway = code(4);
    if (type == NGHTTP2_RST_STREAM && len == 4) h.rst[stream] = code(0);
    if (type == NGHTTP2_HEADERS) h.headers[stream] = true;
    pos += 9 + len;
  }
  return h;
}

}  // namespace

TEST_CASE("RFC 9113 and RFC 7541 errors are answered with the right frame and code") {
  const std::string preface = std::string(kHttp2Preface) + raw_frame(NGHTTP2_SETTINGS, 0, 0, "");
  struct Row {
    const char* name;
    std::string frames;
    std::int64_t goaway;       // the connection error's code, or -1
    std::uint32_t rst_stream;  // a stream error on this stream, or 0
    std::uint32_t rst_code;
  };
  const std::string get = get_block();
  const Row rows[] = {
      {"a frame over SETTINGS_MAX_FRAME_SIZE", raw_frame(NGHTTP2_DATA, 0, 1, std::string(16385, 'x')),
       NGHTTP2_FRAME_SIZE_ERROR, 0, 0},
      {"DATA on stream 0", raw_frame(NGHTTP2_DATA, 0, 0, "x"), NGHTTP2_PROTOCOL_ERROR, 0, 0},
      {"HEADERS on an even stream", raw_frame(NGHTTP2_HEADERS, 0x5, 2, get), NGHTTP2_PROTOCOL_ERROR, 0, 0},
      // nghttp2 ignores it (RFC 9113 5.1.1 asks for PROTOCOL_ERROR): stream 3 is never handled, as the check below
      // shows.
      {"a stream id lower than one already used",
       raw_frame(NGHTTP2_HEADERS, 0x5, 5, get) + raw_frame(NGHTTP2_HEADERS, 0x5, 3, get), -1, 0, 0},
      {"DATA on a stream never opened", raw_frame(NGHTTP2_DATA, 0, 7, "x"), NGHTTP2_PROTOCOL_ERROR, 0, 0},
      {"a SETTINGS frame whose length is not a multiple of 6", raw_frame(NGHTTP2_SETTINGS, 0, 0, "12345"),
       NGHTTP2_FRAME_SIZE_ERROR, 0, 0},
      {"SETTINGS_ENABLE_PUSH 2", raw_frame(NGHTTP2_SETTINGS, 0, 0, std::string("\0\x02", 2) + u32(2)),
       NGHTTP2_PROTOCOL_ERROR, 0, 0},
      {"SETTINGS_INITIAL_WINDOW_SIZE over 2^31-1",
       raw_frame(NGHTTP2_SETTINGS, 0, 0, std::string("\0\x04", 2) + u32(0x80000000U)), NGHTTP2_FLOW_CONTROL_ERROR, 0,
       0},
      {"a PING of 7 bytes", raw_frame(NGHTTP2_PING, 0, 0, "1234567"), NGHTTP2_FRAME_SIZE_ERROR, 0, 0},
      {"a connection window past 2^31-1", raw_frame(NGHTTP2_WINDOW_UPDATE, 0, 0, u32(0x7fffffffU)),
       NGHTTP2_FLOW_CONTROL_ERROR, 0, 0},
      {"a WINDOW_UPDATE of 0 on the connection", raw_frame(NGHTTP2_WINDOW_UPDATE, 0, 0, u32(0)), NGHTTP2_PROTOCOL_ERROR,
       0, 0},
      {"an HPACK index past both tables", raw_frame(NGHTTP2_HEADERS, 0x5, 1, std::string("\xff\x7f", 2)),
       NGHTTP2_COMPRESSION_ERROR, 0, 0},
      {"a stream's window past 2^31-1",
       raw_frame(NGHTTP2_HEADERS, 0x5, 1, std::string("\x82\x86\x85\x01\x01t", 6)) +
           raw_frame(NGHTTP2_WINDOW_UPDATE, 0, 1, u32(0x7fffffffU)),
       -1, 1, NGHTTP2_FLOW_CONTROL_ERROR},
      // nghttp2 hands out window as the data arrives (automatic WINDOW_UPDATE), so it does not see the
      // overrun; the body limit (64 KiB) does: 413, then RST_STREAM NO_ERROR.
      {"DATA past the stream's flow-control window",
       raw_frame(NGHTTP2_HEADERS, 0x4, 1, get) + raw_frame(NGHTTP2_DATA, 0, 1, std::string(16384, 'x')) +
           raw_frame(NGHTTP2_DATA, 0, 1, std::string(16384, 'x')) +
           raw_frame(NGHTTP2_DATA, 0, 1, std::string(16384, 'x')) +
           raw_frame(NGHTTP2_DATA, 0, 1, std::string(16384, 'x')) + raw_frame(NGHTTP2_DATA, 0, 1, "xx"),
       -1, 1, NGHTTP2_NO_ERROR},
      {"GOAWAY from the client", raw_frame(NGHTTP2_GOAWAY, 0, 0, u32(0) + u32(0)), -1, 0, 0},
      // Stream errors: that stream is reset, the connection goes on.
      {"an upper-case header name", raw_frame(NGHTTP2_HEADERS, 0x5, 1, get + std::string("\x00\x01X\x01y", 5)), -1, 1,
       NGHTTP2_PROTOCOL_ERROR},
      {"no :path", raw_frame(NGHTTP2_HEADERS, 0x5, 1, std::string("\x82\x86\x01\x01t", 5)), -1, 1,
       NGHTTP2_PROTOCOL_ERROR},
      {"a body longer than its content-length",
       raw_frame(NGHTTP2_HEADERS, 0x4, 1,
                 std::string("\x83\x86\x84\x01\x01t", 6) + std::string("\x0f\x0d\x01", 3) + "1") +
           raw_frame(NGHTTP2_DATA, 0x1, 1, "xx"),
       -1, 1, NGHTTP2_PROTOCOL_ERROR},
      // A connection error in nghttp2 (RFC 9113 5.1 allows a stream error): stricter, not looser.
      {"DATA after the client ended the stream",
       raw_frame(NGHTTP2_HEADERS, 0x5, 1, std::string("\x82\x86\x85\x01\x01t", 6)) + raw_frame(NGHTTP2_DATA, 0, 1, "x"),
       NGHTTP2_STREAM_CLOSED, 0, 0},
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      HttpLimits limits;
      FakeService app;
      app.delays["/index.html"] = 1s;  // :path /index.html (static index 5) is held: the stream stays half-closed
      Http2Protocol p(limits, app, "192.0.2.7", at());
      std::string out;
      p.receive(preface + row.frames, out, at());
      const auto h = hear(out);
      INFO("goaway " << h.goaway << ", resets " << h.rst.size() << ", answered " << h.headers.size());
      for (const auto& [id, c] : h.rst) INFO("rst " << id << " " << c);
      CHECK(h.goaway == row.goaway);
      if (row.goaway >= 0) CHECK(p.state(0).closing);
      if (row.rst_stream != 0) {
        REQUIRE(h.rst.count(row.rst_stream) == 1);
        CHECK(h.rst.at(row.rst_stream) == row.rst_code);
        CHECK_FALSE(p.state(0).closing);
      }
      CHECK(app.in_progress <= 1);
      for (const auto& path : app.paths) CHECK((path == "/" || path == "/index.html"));
      if (std::string_view(row.name).starts_with("a stream id lower")) CHECK(app.paths.size() == 1);
    }
  }
}

TEST_CASE("HTTP/2: the fields of a request to /headers, lower-case, without the pseudo-headers; none for others") {
  HttpLimits limits;
  FakeService app;
  Http2Protocol p(limits, app, "192.0.2.7", at());
  Client c;
  c.request("GET", "/headers?x=1", {{"x-a", "1"}, {"x-a", "2"}, {"user-agent", "u"}});
  c.request("GET", "/health", {{"x-a", "1"}});
  pump(p, c);
  REQUIRE(app.fields.size() == 2);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  CHECK(app.fields[0] == Fields{{"x-a", "1"}, {"x-a", "2"}, {"user-agent", "u"}});
  CHECK(app.fields[1].empty());
}
