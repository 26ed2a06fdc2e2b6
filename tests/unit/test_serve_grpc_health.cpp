// gRPC health (grpc.health.v1) in the Service: the messages encoded by
// hand, what each service name follows, Check and Watch, and the gRPC
// framing helpers of the HTTP/2 layer. No sockets.
#include <string>

#include "catch.hpp"
#include "core/collect.hpp"
#include "core/grpc_health.hpp"
#include "fixture.hpp"
#include "serve/app/info_document.hpp"
#include "serve/app/service.hpp"
#include "serve/http2/grpc_wire.hpp"

using namespace devops;
using namespace std::chrono_literals;
using core::ServingStatus;

namespace {

struct Harness {
  std::FILE* log_file = std::tmpfile();
  serve::Logger logger{core::LogFormat::JsonLines, core::LogLevel::Error, fileno(log_file)};
  std::unique_ptr<serve::Metrics> metrics = std::make_unique<serve::Metrics>();
  serve::InfoDocument info{[] { return core::collect_report(test::fixture("host-v2"), test::fixed_now(), 1); }, 1s,
                           std::chrono::system_clock::now()};
  serve::Service service;
  explicit Harness(core::Switches sw = {})
      : service(info, *metrics, logger, std::chrono::system_clock::now(), std::move(sw)) {}
  ~Harness() { std::fclose(log_file); }

  // A gRPC call on `method` with a HealthCheckRequest for `name`.
  serve::HttpResponse call(std::string_view method, const std::string& message) {
    path = "/grpc.health.v1.Health/" + std::string(method);
    body = message;
    serve::Exchange ex;
    return service.handle(request(), ex);
  }
  serve::HttpRequest request() const {
    serve::HttpRequest r{"POST", path, "127.0.0.1", "grpc-test"};
    r.protocol = "HTTP/2";
    r.content_type = "application/grpc";
    r.grpc = true;
    r.body = body;
    return r;
  }
  std::string path;
  std::string body;
};

std::string req(std::string_view service) {
  std::string m;
  if (service.empty()) return m;
  m.push_back('\x0a');
  m.push_back(static_cast<char>(service.size()));
  m.append(service);
  return m;
}

const std::string kServing{"\x08\x01", 2};
const std::string kNotServing{"\x08\x02", 2};
const std::string kUnknownService{"\x08\x03", 2};

}  // namespace

TEST_CASE("HealthCheckRequest: field 1, unknown fields skipped, the last value wins, malformed refused") {
  CHECK(core::parse_health_request("") == std::string());
  CHECK(core::parse_health_request(req("liveness")) == "liveness");
  // an unknown varint field (2: 150), a 32-bit (3) and a 64-bit (4) one around it
  const std::string extra = std::string("\x10\x96\x01", 3) + req("readiness") + std::string("\x1d\x01\x02\x03\x04", 5) +
                            std::string("\x21", 1) + std::string(8, '\x07');
  CHECK(core::parse_health_request(extra) == "readiness");
  CHECK(core::parse_health_request(req("a") + req("b")) == "b");
  CHECK_FALSE(
      core::parse_health_request(std::string("\x0a\x05"
                                             "ab",
                                             4)));                      // length past the end
  CHECK_FALSE(core::parse_health_request(std::string("\x08\x01", 2)));  // field 1 as a varint
  CHECK_FALSE(core::parse_health_request(std::string("\x0b", 1)));      // a group (wire type 3)
  CHECK_FALSE(core::parse_health_request(std::string("\x10\xff", 2)));  // a varint cut short
  CHECK_FALSE(core::parse_health_request(std::string("\x02\x00", 2)));  // field number 0
  CHECK(core::encode_health_response(ServingStatus::Serving) == kServing);
  CHECK(core::encode_health_response(ServingStatus::Unknown).empty());
}

TEST_CASE("the client's half: HealthCheckRequest encoded, HealthCheckResponse decoded, malformed refused") {
  CHECK(core::encode_health_request("").empty());
  CHECK(core::encode_health_request("api") == req("api"));
  const std::string long_name(200, 'x');  // a length past one varint byte
  CHECK(core::parse_health_request(core::encode_health_request(long_name)) == long_name);
  CHECK(core::decode_health_response(kServing) == 1);
  CHECK(core::decode_health_response(kNotServing) == 2);
  CHECK(core::decode_health_response("") == 0);                                   // UNKNOWN: the empty message
  CHECK(core::decode_health_response(std::string("\x12\x01z\x08\x03", 5)) == 3);  // an unknown field skipped
  CHECK_FALSE(core::decode_health_response(std::string("\x08", 1)));              // a varint cut short
  CHECK_FALSE(core::decode_health_response(std::string("\x0a\x01x", 3)));         // field 1 as bytes
}

TEST_CASE("gRPC framing: one message in, framed out, grpc-message percent-encoded") {
  // Each input is named: `m` views into it.
  std::string_view m;
  const std::string empty_message("\0\0\0\0\0", 5);
  CHECK(serve::grpc::unframe(empty_message, m) == serve::grpc::Unframe::Ok);
  CHECK(m.empty());
  const std::string api(
      "\0\0\0\0\x05\x0a\x03"
      "api",
      10);
  CHECK(serve::grpc::unframe(api, m) == serve::grpc::Unframe::Ok);
  CHECK(m == std::string("\x0a\x03"
                         "api",
                         5));
  CHECK(serve::grpc::unframe("", m) == serve::grpc::Unframe::Empty);
  const std::string short_prefix("\0\0\0", 3);
  CHECK(serve::grpc::unframe(short_prefix, m) == serve::grpc::Unframe::Truncated);
  const std::string short_message("\0\0\0\0\x02\x08", 6);
  CHECK(serve::grpc::unframe(short_message, m) == serve::grpc::Unframe::Truncated);
  const std::string trailing("\0\0\0\0\0\0", 6);
  CHECK(serve::grpc::unframe(trailing, m) == serve::grpc::Unframe::Trailing);
  const std::string compressed("\x01\0\0\0\0", 5);
  CHECK(serve::grpc::unframe(compressed, m) == serve::grpc::Unframe::Compressed);
  std::string out;
  serve::grpc::append_framed(out, kServing);
  CHECK(out == std::string("\0\0\0\0\x02\x08\x01", 7));
  CHECK(serve::grpc::percent_encode("unknown \"x\" 100%\n") == "unknown \"x\" 100%25%0A");
  CHECK(serve::grpc::is_grpc_content_type("application/grpc"));
  CHECK(serve::grpc::is_grpc_content_type("application/grpc+proto"));
  CHECK(serve::grpc::is_grpc_content_type("Application/GRPC;charset=utf-8"));
  CHECK_FALSE(serve::grpc::is_grpc_content_type("application/grpc-web"));
  CHECK_FALSE(serve::grpc::is_grpc_content_type("application/json"));
}

TEST_CASE("Check: each service name follows its probe; an unknown name is NOT_FOUND") {
  Harness h;
  for (const char* name : {"", "liveness", "readiness"}) {
    const auto r = h.call("Check", req(name));
    CHECK(r.status == 200);
    CHECK(r.grpc.status == 0);
    CHECK(r.body == kServing);
    CHECK_FALSE(r.open_stream);
  }
  const auto unknown = h.call("Check", req("payments"));
  CHECK(unknown.grpc.status == 5);
  CHECK(unknown.body.empty());
  CHECK(unknown.grpc.message.find("payments") != std::string::npos);
  CHECK(h.call("Check", std::string("\x0a\x09", 2)).grpc.status == 13);  // malformed: INTERNAL

  SECTION("unhealthy: the whole server and liveness NOT_SERVING, readiness still SERVING (no restart for it)") {
    h.service.set_healthy(false);
    CHECK(h.call("Check", req("")).body == kNotServing);
    CHECK(h.call("Check", req("liveness")).body == kNotServing);
    CHECK(h.call("Check", req("readiness")).body == kServing);
  }
  SECTION("unready: readiness and the whole server NOT_SERVING, liveness SERVING") {
    h.service.set_ready(false);
    CHECK(h.call("Check", req("")).body == kNotServing);
    CHECK(h.call("Check", req("liveness")).body == kServing);
    CHECK(h.call("Check", req("readiness")).body == kNotServing);
  }
  SECTION("shutdown asked for: readiness goes first; at the drain liveness too") {
    h.service.begin_shutdown();
    CHECK(h.call("Check", req("readiness")).body == kNotServing);
    CHECK(h.call("Check", req("liveness")).body == kServing);
    h.service.begin_drain();
    CHECK(h.call("Check", req("liveness")).body == kNotServing);
  }
}

TEST_CASE("--unhealthy at start: NOT_SERVING for \"\" and liveness, SERVING for readiness") {
  core::Switches sw;
  sw.unhealthy = true;
  Harness h(sw);
  CHECK(h.call("Check", req("")).body == kNotServing);
  CHECK(h.call("Check", req("liveness")).body == kNotServing);
  CHECK(h.call("Check", req("readiness")).body == kServing);
}

TEST_CASE("Watch: the status at once, open; each change moves changes(); the drain ends it with UNAVAILABLE") {
  Harness h;
  int told = 0;
  h.service.on_change([&] { ++told; });
  auto r = h.call("Watch", req("liveness"));
  CHECK(r.open_stream);
  CHECK(r.body == kServing);
  const auto before = h.service.changes();
  h.service.set_healthy(false);
  CHECK(h.service.changes() > before);
  CHECK(told == 1);
  r = h.service.follow(h.request());
  CHECK(r.open_stream);
  CHECK(r.body == kNotServing);
  h.service.set_healthy(true);
  CHECK(h.service.follow(h.request()).body == kServing);

  const auto unknown = h.call("Watch", req("nope"));
  CHECK(unknown.open_stream);  // stays open, as health.proto says
  CHECK(unknown.body == kUnknownService);

  h.service.begin_drain();
  CHECK(told == 3);
  h.body = req("liveness");
  r = h.service.follow(h.request());
  CHECK_FALSE(r.open_stream);
  CHECK(r.body == kNotServing);
  CHECK(r.grpc.status == 14);
}

TEST_CASE("the gRPC routes answer gRPC only: 415 for a plain POST, 405 with Allow: POST for GET") {
  Harness h;
  serve::Exchange ex;
  serve::HttpRequest plain{"POST", "/grpc.health.v1.Health/Check", "127.0.0.1", "curl"};
  CHECK(h.service.handle(plain, ex).status == 415);
  serve::Exchange ex2;
  const auto r = h.service.handle({"GET", "/grpc.health.v1.Health/Check", "127.0.0.1", "curl"}, ex2);
  CHECK(r.status == 405);
  CHECK(r.allow == "POST");
  serve::Exchange ex3;
  CHECK(h.service.handle({"POST", "/health", "127.0.0.1", "curl"}, ex3).allow == "GET, HEAD");
}
