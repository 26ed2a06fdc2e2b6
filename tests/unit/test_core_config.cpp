#include <fmt/format.h>

#include <map>

#include "catch.hpp"
#include "core/cidr.hpp"
#include "core/config_file.hpp"
#include "core/endpoints.hpp"
#include "core/health.hpp"
#include "core/probe_url.hpp"
#include "core/render.hpp"
#include "core/serve_config.hpp"
#include "fixture.hpp"

using namespace devops::core;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ServeConfig ok(const std::variant<ServeConfig, ConfigError>& r) {
  if (const auto* e = std::get_if<ConfigError>(&r)) FAIL(e->message);
  return std::get<ServeConfig>(r);
}

std::string error_of(const std::variant<ServeConfig, ConfigError>& r) {
  REQUIRE(std::holds_alternative<ConfigError>(r));
  return std::get<ConfigError>(r).message;
}

}  // namespace

TEST_CASE("parse_port takes 0 to 65535 in plain digits") {
  CHECK(parse_port("0") == 0);
  CHECK(parse_port("5000") == 5000);
  CHECK(parse_port("65535") == 65535);
  for (const char* bad : {"", "65536", "70000", "-1", "+80", "abc", "80a", " 80", "80 ", "1e3", "000000080"}) {
    INFO(bad);
    CHECK_FALSE(parse_port(bad));
  }
}

TEST_CASE("parse_host takes numeric IPv4 and IPv6 addresses only") {
  CHECK(parse_host("0.0.0.0") == "0.0.0.0");
  CHECK(parse_host("127.0.0.1") == "127.0.0.1");
  CHECK(parse_host("::") == "::");
  CHECK(parse_host("[::1]") == "::1");
  CHECK(parse_host("fe80::1") == "fe80::1");
  for (const char* bad : {"", "localhost", "example.com", "300.1.2.3", "1.2.3", "[::1", "::1]", "1.2.3.4:80", " ::"}) {
    INFO(bad);
    CHECK_FALSE(parse_host(bad));
  }
}

TEST_CASE("parse_bool knows the usual spellings") {
  for (const char* t : {"true", "TRUE", "True", "1", "yes", "on"}) CHECK(parse_bool(t) == true);
  for (const char* f : {"false", "False", "0", "no", "off", ""}) CHECK(parse_bool(f) == false);
  CHECK_FALSE(parse_bool("maybe"));
  CHECK_FALSE(parse_bool("2"));
}

TEST_CASE("parse_duration: units, fractions, bare seconds") {
  CHECK(parse_duration("10s") == milliseconds(10'000));
  CHECK(parse_duration("500ms") == milliseconds(500));
  CHECK(parse_duration("1.5s") == milliseconds(1500));
  CHECK(parse_duration("2m") == milliseconds(120'000));
  CHECK(parse_duration("1h") == milliseconds(3'600'000));
  CHECK(parse_duration("3") == milliseconds(3000));
  CHECK(parse_duration("0") == milliseconds(0));
  CHECK(parse_duration("0.25") == milliseconds(250));
  for (const char* bad : {"", "s", "-1s", "1.s", ".5s", "1..5s", "10 s", "10sec", "1e3s", "abc", "1.5.2s"}) {
    INFO(bad);
    CHECK_FALSE(parse_duration(bad));
  }
  CHECK(std::get<ConfigError>(parse_duration_option("--wait", "soon")).message ==
        "--wait: 'soon' is not a duration (e.g. 10s, 500ms, 2m)");
}

TEST_CASE("format_duration gives the shortest exact form") {
  CHECK(format_duration(milliseconds(0)) == "0s");
  CHECK(format_duration(milliseconds(250)) == "250ms");
  CHECK(format_duration(milliseconds(1500)) == "1.5s");
  CHECK(format_duration(milliseconds(1250)) == "1.25s");
  CHECK(format_duration(milliseconds(10'000)) == "10s");
  CHECK(format_duration(milliseconds(120'000)) == "2m");
  CHECK(format_duration(milliseconds(7'200'000)) == "2h");
}

TEST_CASE("serve configuration: defaults") {
  const auto c = ok(resolve_serve_config({}, env_of({})));
  CHECK(c.host == "0.0.0.0");
  CHECK(c.port == 5000);
  CHECK(c.log_level == LogLevel::Info);
  CHECK(c.log_format == LogFormat::JsonLines);
  CHECK(c.threads == 0);  // one event loop per usable CPU
  CHECK(c.max_connections == 10'000);
  CHECK(c.shutdown_timeout == milliseconds(10'000));
  CHECK(c.shutdown_delay == milliseconds(0));
}

TEST_CASE("serve configuration: the environment beats the default") {
  const auto c = ok(resolve_serve_config({}, env_of({{"HOST", "127.0.0.1"}, {"PORT", "8080"}, {"DEBUG", "true"}})));
  CHECK(c.host == "127.0.0.1");
  CHECK(c.port == 8080);
  CHECK(c.log_level == LogLevel::Debug);
  CHECK(ok(resolve_serve_config({}, env_of({{"DEBUG", "false"}}))).log_level == LogLevel::Info);
  // Empty variables count as unset.
  CHECK(ok(resolve_serve_config({}, env_of({{"HOST", ""}, {"PORT", ""}}))).port == 5000);
}

TEST_CASE("serve configuration: a flag beats the environment, which is then not read") {
  ServeFlags f;
  f.host = "::1";
  f.port = std::string(1, '0');  // not a literal: GCC 12 -Wrestrict false positive
  f.log_level = LogLevel::Warning;
  f.shutdown_timeout = "2.5s";
  f.threads = "4";
  f.max_connections = "20000";
  f.shutdown_delay = "5s";
  const auto c = ok(resolve_serve_config(f, env_of({{"HOST", "bad"}, {"PORT", "abc"}, {"DEBUG", "true"}})));
  CHECK(c.host == "::1");
  CHECK(c.port == 0);
  CHECK(c.log_level == LogLevel::Warning);
  CHECK(c.shutdown_timeout == milliseconds(2500));
  CHECK(c.threads == 4);
  CHECK(c.max_connections == 20'000);
  CHECK(c.shutdown_delay == milliseconds(5000));
}

TEST_CASE("serve configuration: bad values name the variable or the flag") {
  CHECK(error_of(resolve_serve_config({}, env_of({{"PORT", "abc"}}))) ==
        "PORT: 'abc' is not a port number (0 to 65535)");
  CHECK(error_of(resolve_serve_config({}, env_of({{"PORT", "70000"}}))).starts_with("PORT: '70000'"));
  CHECK(error_of(resolve_serve_config({}, env_of({{"HOST", "localhost"}}))).starts_with("HOST: 'localhost' is not a "));
  CHECK(error_of(resolve_serve_config({}, env_of({{"DEBUG", "maybe"}}))).starts_with("DEBUG: 'maybe'"));
  ServeFlags f;
  f.port = "70000";
  CHECK(error_of(resolve_serve_config(f, env_of({}))).starts_with("--port: '70000'"));
  f = {};
  f.shutdown_timeout = "later";
  CHECK(error_of(resolve_serve_config(f, env_of({}))).starts_with("--shutdown-timeout: 'later'"));
  f = {};
  f.threads = "0";
  CHECK(error_of(resolve_serve_config(f, env_of({}))).starts_with("--threads: '0'"));
  for (const char* bad : {"-1", "", "2x", " 2", "+2", "18446744073709551617"}) {
    f.threads = bad;
    CHECK(error_of(resolve_serve_config(f, env_of({}))) ==
          "--threads: '" + std::string(bad) + "' is not a number of event loops (1 to 64)");
  }
  f.threads = "65";
  CHECK(error_of(resolve_serve_config(f, env_of({}))) == "--threads: '65' is not a number of event loops (1 to 64)");
  f = {};
  f.max_connections = "0";
  CHECK(error_of(resolve_serve_config(f, env_of({}))).starts_with("--max-connections: '0'"));
  f = {};
  f.shutdown_delay = "-1s";
  CHECK(error_of(resolve_serve_config(f, env_of({}))).starts_with("--shutdown-delay: '-1s'"));
}

TEST_CASE("parse_http_url") {
  auto target = [](std::string_view url) {
    auto r = parse_http_url(url);
    if (const auto* e = std::get_if<ConfigError>(&r)) FAIL(e->message);
    return std::get<HttpTarget>(r);
  };
  auto t = target("http://127.0.0.1:5000/health");
  CHECK((t.host == "127.0.0.1" && t.port == 5000 && t.path == "/health"));
  t = target("HTTP://10.0.0.5");
  CHECK((t.host == "10.0.0.5" && t.port == 80 && t.path == "/"));
  t = target("127.0.0.1:8080/health?verbose=1#frag");
  CHECK((t.port == 8080 && t.path == "/health?verbose=1"));
  t = target("http://[::1]:9000/ready");
  CHECK((t.host == "::1" && t.port == 9000 && t.path == "/ready"));
  t = target("http://host.example?x");
  CHECK((t.host == "host.example" && t.path == "/?x"));
  for (const char* bad : {"ftps://127.0.0.1/", "ftp://x/", "http://", "http://:80/", "http://[::1/x", "http://::1/x",
                          "http://1.2.3.4:0/", "http://1.2.3.4:99999/", "http://1.2.3.4:/", "http://u@h/"}) {
    INFO(bad);
    CHECK(std::holds_alternative<ConfigError>(parse_http_url(bad)));
  }
  CHECK(std::get<ConfigError>(parse_http_url("ftp://x/")).message.starts_with("--url: 'ftp://x/': only http://"));
  // TLS: https:// on 443, grpcs:// on serve's TLS port.
  t = target("https://example.org/health");
  CHECK((t.tls && t.scheme == ProbeScheme::Http && t.port == 443 && t.host == "example.org"));
  t = target("grpcs://127.0.0.1/liveness");
  CHECK((t.tls && t.scheme == ProbeScheme::Grpc && t.port == 5443 && t.grpc_service() == "liveness"));
  CHECK_FALSE(target("http://x/").tls);
  // gRPC health: the service in the path, serve's port by default.
  t = target("grpc://127.0.0.1:5001/readiness");
  CHECK((t.scheme == ProbeScheme::Grpc && t.port == 5001 && t.grpc_service() == "readiness"));
  t = target("GRPC://[::1]");
  CHECK((t.scheme == ProbeScheme::Grpc && t.host == "::1" && t.port == 5000 && t.grpc_service().empty()));
  CHECK(target("http://h/x").scheme == ProbeScheme::Http);
  for (const char* bad : {"grpc://h:1/a/b", "grpc://h:1/a?x", "grpc://:1/"}) {
    INFO(bad);
    CHECK(std::holds_alternative<ConfigError>(parse_http_url(bad)));
  }
  // Characters no URL may hold are a usage error, not "cannot connect".
  for (const char* bad :
       {"http://127.0.0.1/he alth", "http://127.0.0.1/\x01", "http://127.0.0.1/a\tb", "http://1 27.0.0.1/",
        "http://127.0.0.1/<x>", "http://127.0.0.1/\xc3\xa9", "http://127.0.0.1/a\x7f"}) {
    INFO(bad);
    const auto r = parse_http_url(bad);
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).message.find("invalid character") != std::string::npos);
  }
  CHECK(target("http://127.0.0.1/a%20b?x=1&y=%7E").path == "/a%20b?x=1&y=%7E");
}

TEST_CASE("faults: per route or *, later rules win, wrong values name the option") {
  ServeFlags f;
  SECTION("* covers every route; a later rule for one route wins") {
    f.fault_delay = {"*=100ms-2s", "/health=50ms"};
    f.fault_error = {"/=0.25"};
    auto c = std::get<ServeConfig>(resolve_serve_config(f, env_of({})));
    REQUIRE(c.switches.faults.size() == endpoints().size());
    for (const auto& r : c.switches.faults) {
      INFO(r.route);
      if (r.route == "/health") {
        CHECK((r.delay_min == 50ms && r.delay_max == 50ms));
      } else {
        CHECK((r.delay_min == 100ms && r.delay_max == 2000ms));
      }
      CHECK(r.error_fraction == (r.route == "/" ? 0.25 : 0.0));
    }
  }
  SECTION("none by default, and a fraction of zero is none") {
    CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}))).switches.faults.empty());
    f.fault_error = {"/ready=0"};
    CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({}))).switches.faults.empty());
  }
  SECTION("a wrong delay names --fault-delay") {
    for (const char* bad : {"/nope=1s", "/=x", "/=2s-1s", "/=11m", "/health", "=1s", "/=1s-", "/=-1s"}) {
      INFO(bad);
      f = {};
      f.fault_delay = {bad};
      const auto r = resolve_serve_config(f, env_of({}));
      REQUIRE(std::holds_alternative<ConfigError>(r));
      CHECK(std::get<ConfigError>(r).message.starts_with("--fault-delay: '"));
    }
  }
  SECTION("a wrong fraction names --fault-error") {
    for (const char* bad : {"/=1.5", "/=-0.1", "/=nan", "/=inf", "/=", "/=0.5x", "x=0.5", "/=1e-400x"}) {
      INFO(bad);
      f = {};
      f.fault_error = {bad};
      const auto r = resolve_serve_config(f, env_of({}));
      REQUIRE(std::holds_alternative<ConfigError>(r));
      CHECK(std::get<ConfigError>(r).message.starts_with("--fault-error: '"));
    }
  }
}

TEST_CASE("data directory: flag over DATA_DIR, off by default; flush interval bounded") {
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}))).data_dir.empty());
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({{"DATA_DIR", ""}}))).data_dir.empty());
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({{"DATA_DIR", "/data"}}))).data_dir == "/data");
  ServeFlags f;
  f.data_dir = "/x";
  CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({{"DATA_DIR", "/data"}}))).data_dir == "/x");
  f.data_dir = "";
  CHECK(std::holds_alternative<ConfigError>(resolve_serve_config(f, env_of({}))));
  f = {};
  CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({}))).flush_interval == 1s);
  f.flush_interval = "250ms";
  CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({}))).flush_interval == 250ms);
  for (const char* bad : {"0", "5ms", "2h", "x"}) {
    f.flush_interval = bad;
    CHECK(std::holds_alternative<ConfigError>(resolve_serve_config(f, env_of({}))));
  }
}

TEST_CASE("a connection's deadlines: defaults, flags and the file, from 100ms to 1h") {
  auto resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({})));
  CHECK(resolved.request_timeout == 10s);
  CHECK(resolved.idle_timeout == 5s);
  CHECK(resolved.write_timeout == 5s);
  ServeFlags f;
  f.request_timeout = "2s";
  f.idle_timeout = "75s";
  f.write_timeout = "100ms";
  resolved = std::get<ServeConfig>(resolve_serve_config(f, env_of({})));
  CHECK(resolved.request_timeout == 2s);
  CHECK(resolved.idle_timeout == 75s);
  CHECK(resolved.write_timeout == 100ms);
  f.idle_timeout = "1h";
  CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({}))).idle_timeout == 1h);
  for (const char* bad : {"0", "99ms", "61m", "", "-1s", "soon"}) {
    INFO(bad);
    f.idle_timeout = bad;
    const auto r = resolve_serve_config(f, env_of({}));
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).message ==
          fmt::format("--idle-timeout: '{}' is not a duration from 100ms to 1h", bad));
  }
}

TEST_CASE("the probe's default URL is numeric loopback on PORT") {
  CHECK(std::get<std::string>(default_probe_url(env_of({}))) == "http://127.0.0.1:5000/health");
  CHECK(std::get<std::string>(default_probe_url(env_of({{"PORT", "8080"}}))) == "http://127.0.0.1:8080/health");
  CHECK(std::get<std::string>(default_probe_url(env_of({{"PORT", ""}}))) == "http://127.0.0.1:5000/health");
  CHECK(std::get<ConfigError>(default_probe_url(env_of({{"PORT", "abc"}}))).message.starts_with("PORT: 'abc'"));
  CHECK(std::holds_alternative<ConfigError>(default_probe_url(env_of({{"PORT", "0"}}))));
}

TEST_CASE("append_health_json writes what render_json(health_to_json(...)) writes") {
  using namespace std::chrono;
  const auto started = devops::test::fixed_now();
  for (const auto status : {HealthStatus::Healthy, HealthStatus::Unhealthy}) {
    for (const microseconds later : {microseconds(0), microseconds(1), microseconds(59'999'999),
                                     microseconds(hours(50)), microseconds(-3'000'000) /* the clock went back */}) {
      const auto now = started + later;
      std::string out;
      append_health_json(out, status, now, started);
      CHECK(out == render_json(health_to_json(make_health(status, now, started)), JsonStyle::Compact));
    }
  }
}

TEST_CASE("health_from_json reads back what health_to_json wrote") {
  const Health h{HealthStatus::Unhealthy, "2026-11-28T14:34:56.789012+00:00", 42};
  const auto back = health_from_json(health_to_json(h));
  REQUIRE(back);
  CHECK(back->status == HealthStatus::Unhealthy);
  CHECK(back->timestamp == h.timestamp);
  CHECK(back->uptime_seconds == 42);
  CHECK_FALSE(health_from_json(nlohmann::ordered_json::parse(R"({"status":"healthy"})")));
  CHECK_FALSE(health_from_json(nlohmann::ordered_json::parse(R"({"status":"ok","timestamp":"t","uptime_seconds":1})")));
  CHECK_FALSE(health_from_json(nlohmann::ordered_json::parse(R"([1,2])")));
}

TEST_CASE("--introspection and --max-delay: flag over INTROSPECTION and MAX_DELAY over the file; bad values named") {
  auto resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({})));
  CHECK(resolved.switches.introspection);
  CHECK(resolved.switches.max_delay == 10s);
  resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({{"INTROSPECTION", "off"}, {"MAX_DELAY", "3s"}})));
  CHECK_FALSE(resolved.switches.introspection);
  CHECK(resolved.switches.max_delay == 3s);
  ServeFlags f;
  f.introspection = "on";
  f.max_delay = "0";
  resolved = std::get<ServeConfig>(resolve_serve_config(f, env_of({{"INTROSPECTION", "off"}, {"MAX_DELAY", "3s"}})));
  CHECK(resolved.switches.introspection);
  CHECK(resolved.switches.max_delay == 0ms);
  const auto file = std::get<ConfigFile>(parse_config_file(R"({"introspection": false, "max_delay": "2m"})", "c.json"));
  resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &file));
  CHECK_FALSE(resolved.switches.introspection);
  CHECK(resolved.switches.max_delay == 2min);
  for (const char* bad : {"maybe", ""}) {
    INFO(bad);
    ServeFlags g;
    g.introspection = bad;
    const auto r = resolve_serve_config(g, env_of({}));
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).message == fmt::format("--introspection: '{}' is not on or off", bad));
  }
  const auto r = resolve_serve_config({}, env_of({{"MAX_DELAY", "11m"}}));
  REQUIRE(std::holds_alternative<ConfigError>(r));
  CHECK(std::get<ConfigError>(r).message == "MAX_DELAY: '11m' is not a duration from 0s to 10m");
}

TEST_CASE("--max-body: a size in binary units from the flag, MAX_BODY or the file, at most 16MiB") {
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}))).switches.max_body == 1024 * 1024);
  for (const auto& [text, bytes] : std::vector<std::pair<const char*, std::uint64_t>>{{"0", 0},
                                                                                      {"65536", 65536},
                                                                                      {"64KiB", 65536},
                                                                                      {"64Ki", 65536},
                                                                                      {"1MiB", 1048576},
                                                                                      {"16Mi", 16777216},
                                                                                      {"100B", 100}}) {
    INFO(text);
    CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({{"MAX_BODY", text}}))).switches.max_body == bytes);
  }
  for (const char* bad : {"", "1MB", "1.5MiB", "-1", "17MiB", "1GiB", "999999999999999", "MiB", "1 MiB"}) {
    INFO(bad);
    ServeFlags f;
    f.max_body = bad;
    const auto r = resolve_serve_config(f, env_of({}));
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).message ==
          fmt::format("--max-body: '{}' is not a size up to 16MiB (64KiB, 1MiB)", bad));
  }
  const auto file = std::get<ConfigFile>(parse_config_file(R"({"max_body": "2MiB"})", "c.json"));
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &file)).switches.max_body == 2 * 1024 * 1024);
  CHECK(format_size(1048576) == "1MiB");
  CHECK(format_size(1536) == "1536B");
  CHECK(format_size(0) == "0B");
}

TEST_CASE("--env-allow: comma-separated globs from the flag, ENV_ALLOW or the file; bounded; empty shows none") {
  auto resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({})));
  CHECK(resolved.switches.env_allow == std::vector<std::string>{"POD_*", "NODE_*", "KUBERNETES_*", "HOSTNAME"});
  resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({{"ENV_ALLOW", "APP_*, VERSION"}})));
  CHECK(resolved.switches.env_allow == std::vector<std::string>{"APP_*", "VERSION"});
  ServeFlags f;
  f.env_allow = "";
  CHECK(std::get<ServeConfig>(resolve_serve_config(f, env_of({}))).switches.env_allow.empty());
  const auto file = std::get<ConfigFile>(parse_config_file(R"({"env_allow": "MY_*"})", "c.json"));
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &file)).switches.env_allow ==
        std::vector<std::string>{"MY_*"});
  std::string many;
  for (int i = 0; i < 65; ++i) many += "A,";
  many += "B";
  for (const std::string& bad : {std::string("A,,B"), std::string(257, 'X'), many}) {
    ServeFlags g;
    g.env_allow = bad;
    const auto r = resolve_serve_config(g, env_of({}));
    REQUIRE(std::holds_alternative<ConfigError>(r));
    CHECK(std::get<ConfigError>(r).message.starts_with("--env-allow: '"));
  }
}

TEST_CASE("CIDR ranges: IPv4 and IPv6, single addresses, mapped addresses, no bits past the prefix") {
  const auto r8 = parse_cidr("10.0.0.0/8");
  REQUIRE(r8);
  CHECK(cidr_contains(*r8, "10.1.2.3"));
  CHECK(cidr_contains(*r8, "::ffff:10.1.2.3"));
  CHECK_FALSE(cidr_contains(*r8, "11.0.0.1"));
  CHECK_FALSE(cidr_contains(*r8, "fd00::1"));
  CHECK_FALSE(cidr_contains(*r8, "not an address"));
  const auto one = parse_cidr("192.0.2.7");
  REQUIRE(one);
  CHECK(cidr_contains(*one, "192.0.2.7"));
  CHECK_FALSE(cidr_contains(*one, "192.0.2.8"));
  const auto v6 = parse_cidr("fd00::/8");
  REQUIRE(v6);
  CHECK(cidr_contains(*v6, "fd12:3456::1"));
  CHECK_FALSE(cidr_contains(*v6, "fe80::1"));
  const auto odd = parse_cidr("172.16.0.0/12");
  REQUIRE(odd);
  CHECK(cidr_contains(*odd, "172.31.255.255"));
  CHECK_FALSE(cidr_contains(*odd, "172.32.0.0"));
  CHECK(cidr_contains(*parse_cidr("0.0.0.0/0"), "203.0.113.9"));
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "fd00::/129", "example.org", "10.0.0",
                          "", "1.2.3.4/-1"}) {
    INFO(bad);
    CHECK_FALSE(parse_cidr(bad));
  }
}

TEST_CASE(
    "--trusted-proxies: CIDR ranges from the flag, TRUSTED_PROXIES or the file; none by default; bad ones named") {
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}))).switches.trusted_proxies.empty());
  const auto r = std::get<ServeConfig>(resolve_serve_config({}, env_of({{"TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"}})));
  CHECK(r.switches.trusted_proxies == std::vector<std::string>{"10.0.0.0/8", "fd00::/8"});
  const auto file = std::get<ConfigFile>(parse_config_file(R"({"trusted_proxies": "192.0.2.1"})", "c.json"));
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &file)).switches.trusted_proxies ==
        std::vector<std::string>{"192.0.2.1"});
  for (const char* bad : {"10.0.0.1/8", "proxy.local", "10.0.0.0/8,,"}) {
    INFO(bad);
    ServeFlags f;
    f.trusted_proxies = bad;
    const auto e = resolve_serve_config(f, env_of({}));
    REQUIRE(std::holds_alternative<ConfigError>(e));
    CHECK(std::get<ConfigError>(e).message ==
          fmt::format("--trusted-proxies: '{}' is not comma-separated address ranges (10.0.0.0/8,fd00::/8), at most 64",
                      bad));
  }
}

TEST_CASE("upstreams: the flags over UPSTREAM_URIS over the file; http:// only, at most 16; the timeout and size") {
  auto resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({})));
  CHECK(resolved.upstreams.urls.empty());
  CHECK(resolved.upstreams.timeout == 2s);
  CHECK(resolved.upstreams.max_body == 1024 * 1024);

  const auto file = std::get<ConfigFile>(parse_config_file(
      R"({"upstreams": ["http://c/", "http://d:8080/x?y=1"], "upstream_timeout": "500ms", "upstream_max_body": "64KiB"})",
      "c.json"));
  resolved = std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &file));
  CHECK(resolved.upstreams.urls == std::vector<std::string>{"http://c/", "http://d:8080/x?y=1"});
  CHECK(resolved.upstreams.timeout == 500ms);
  CHECK(resolved.upstreams.max_body == 64 * 1024);
  const auto one = std::get<ConfigFile>(parse_config_file(R"({"upstreams": "http://only/"})", "c.json"));
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({}), &one)).upstreams.urls ==
        std::vector<std::string>{"http://only/"});

  resolved = std::get<ServeConfig>(resolve_serve_config(
      {}, env_of({{"UPSTREAM_URIS", "http://a:9090, http://b/"}, {"UPSTREAM_TIMEOUT", "1s"}}), &file));
  CHECK(resolved.upstreams.urls == std::vector<std::string>{"http://a:9090", "http://b/"});
  CHECK(resolved.upstreams.timeout == 1s);

  ServeFlags f;
  f.upstream = {"http://flag/"};
  f.upstream_timeout = "10ms";
  resolved = std::get<ServeConfig>(resolve_serve_config(f, env_of({{"UPSTREAM_URIS", "http://a/"}}), &file));
  CHECK(resolved.upstreams.urls == std::vector<std::string>{"http://flag/"});
  CHECK(resolved.upstreams.timeout == 10ms);

  ServeFlags secure;
  secure.upstream = {"https://secure/", "https://[fd00::1]:8443/x"};
  secure.upstream_cacert = "/etc/ca.pem";
  resolved = std::get<ServeConfig>(resolve_serve_config(secure, env_of({})));
  CHECK(resolved.upstreams.urls == secure.upstream);
  CHECK(resolved.upstreams.cacert == "/etc/ca.pem");
  CHECK(std::get<ServeConfig>(resolve_serve_config({}, env_of({{"UPSTREAM_CACERT", "/ca.pem"}}))).upstreams.cacert ==
        "/ca.pem");
  for (const char* bad : {"grpc://g:5000/", "grpcs://g/", "ftp://x/", "http://", "http://h:99999/"}) {
    INFO(bad);
    ServeFlags g;
    g.upstream = {bad};
    CHECK(error_of(resolve_serve_config(g, env_of({}))).starts_with(fmt::format("--upstream: '{}'", bad)));
  }
  ServeFlags many;
  for (int i = 0; i < 17; ++i) many.upstream.push_back(fmt::format("http://h{}/", i));
  CHECK(error_of(resolve_serve_config(many, env_of({}))) == "--upstream: at most 16 upstreams, not 17");
  ServeFlags longer;
  longer.upstream = {"http://h/" + std::string(2100, 'a')};
  CHECK(error_of(resolve_serve_config(longer, env_of({}))).find("at most 2048 characters") != std::string::npos);
  CHECK(error_of(resolve_serve_config({}, env_of({{"UPSTREAM_TIMEOUT", "2m"}}))).starts_with("UPSTREAM_TIMEOUT: '2m'"));
  CHECK(error_of(resolve_serve_config({}, env_of({{"UPSTREAM_MAX_BODY", "0"}}))).starts_with("UPSTREAM_MAX_BODY: '0'"));
  const auto bad_file = parse_config_file(R"({"upstreams": [1]})", "c.json");
  REQUIRE(std::holds_alternative<ConfigError>(bad_file));
  CHECK(std::get<ConfigError>(bad_file).message.find("each upstream must be a URL string") != std::string::npos);
}
