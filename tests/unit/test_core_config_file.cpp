#include <map>

#include "catch.hpp"
#include "core/config_file.hpp"
#include "core/json_depth.hpp"
#include "core/serve_config.hpp"

using namespace devops::core;
using namespace std::chrono_literals;

namespace {

ConfigFile parsed(std::string_view text) {
  auto r = parse_config_file(text, "config.json");
  if (const auto* e = std::get_if<ConfigError>(&r)) FAIL(e->message);
  return std::get<ConfigFile>(std::move(r));
}

std::string error_of(std::string_view text) {
  auto r = parse_config_file(text, "config.json");
  REQUIRE(std::holds_alternative<ConfigError>(r));
  return std::get<ConfigError>(r).message;
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ServeConfig resolved(const ServeFlags& flags, const EnvLookup& env, const ConfigFile& file) {
  auto r = resolve_serve_config(flags, env, &file);
  if (const auto* e = std::get_if<ConfigError>(&r)) FAIL(e->message);
  return std::get<ServeConfig>(r);
}

std::string resolve_error(const ConfigFile& file) {
  auto r = resolve_serve_config({}, nullptr, &file);
  REQUIRE(std::holds_alternative<ConfigError>(r));
  return std::get<ConfigError>(r).message;
}

}  // namespace

TEST_CASE("config file: settings, ui and the application's keys") {
  const auto f = parsed(R"({
  "appName": "devops-info",
  "features": {"visitsCounter": true},
  "port": 8080,
  "log_level": "WARNING",
  "ready": false,
  "shutdown_delay": 1.5,
  "fault_delay": ["/=100ms", "/health=1s-2s"],
  "fault_error": {"/visits": 0.5},
  "threads": null,
  "ui": {"title": "Demo", "color": "#0a7", "message": "v2"}
})");
  CHECK(f.app == Json{{"appName", "devops-info"}, {"features", {{"visitsCounter", true}}}});
  CHECK(f.ui == UiSettings{"Demo", "#0a7", "v2"});
  CHECK(f.warnings.empty());
  CHECK(f.settings.at("port").values == std::vector<std::string>{"8080"});
  CHECK(f.settings.at("port").where == "config.json:4:3: port");
  CHECK(f.settings.at("fault_error").values == std::vector<std::string>{"/visits=0.5"});
  CHECK(f.settings.count("threads") == 0);  // null: as if absent

  const auto c = resolved({}, nullptr, f);
  CHECK(c.port == 8080);
  CHECK(c.log_level == LogLevel::Warning);
  CHECK(c.switches.unready);
  CHECK_FALSE(c.switches.unhealthy);
  CHECK(c.shutdown_delay == 1500ms);
  REQUIRE(c.switches.faults.size() == 3);
  CHECK(c.switches.faults[0] == RouteFault{"/", 100ms, 100ms, 0});
  CHECK(c.switches.faults[1] == RouteFault{"/health", 1s, 2s, 0});
  CHECK(c.switches.faults[2] == RouteFault{"/visits", 0ms, 0ms, 0.5});
}

TEST_CASE("config file: flag beats environment beats file beats default") {
  const auto f = parsed(R"({"host": "127.0.0.1", "port": 7000, "log_level": "error", "data_dir": "/file",
                            "log_format": "text", "fault_error": ["*=1"], "ready": false})");
  SECTION("the file alone") {
    const auto c = resolved({}, env_of({}), f);
    CHECK(c.host == "127.0.0.1");
    CHECK(c.port == 7000);
    CHECK(c.data_dir == "/file");
    CHECK(c.log_format == LogFormat::Text);
  }
  SECTION("the environment wins over the file; an empty variable does not") {
    const auto c = resolved({}, env_of({{"PORT", "7001"}, {"HOST", ""}, {"DEBUG", "true"}, {"DATA_DIR", "/env"}}), f);
    CHECK(c.port == 7001);
    CHECK(c.host == "127.0.0.1");
    CHECK(c.log_level == LogLevel::Debug);
    CHECK(c.data_dir == "/env");
  }
  SECTION("flags win over both") {
    ServeFlags flags;
    flags.port = "7002";
    flags.log_level = LogLevel::Info;
    flags.log_format = LogFormat::JsonLines;
    flags.fault_error = {"/=0.25"};
    flags.unready = true;
    const auto c = resolved(flags, env_of({{"PORT", "7001"}}), f);
    CHECK(c.port == 7002);
    CHECK(c.log_level == LogLevel::Info);
    CHECK(c.log_format == LogFormat::JsonLines);
    REQUIRE(c.switches.faults.size() == 1);
    CHECK(c.switches.faults[0].route == "/");
    CHECK(c.switches.unready);
  }
  SECTION("the defaults under an empty file") {
    const auto c = resolved({}, env_of({}), parsed("{}"));
    CHECK(c == ServeConfig{});
  }
}

TEST_CASE("config file: errors name the line, the column and the key") {
  SECTION("invalid JSON") {
    CHECK(error_of("{\n  \"a\": 1,\n}") ==
          "config.json:3:1: invalid JSON: syntax error while parsing object key - unexpected '}'; expected string "
          "literal");
    CHECK(error_of("").rfind("config.json:1:1: invalid JSON: ", 0) == 0);
    CHECK(error_of("{\"a\": 1} {").rfind("config.json:1:10: invalid JSON: ", 0) == 0);
  }
  SECTION("not an object") {
    CHECK(error_of("[1]") == "config.json:1:1: the file must hold a JSON object, not an array");
    CHECK(error_of("\"x\"") == "config.json:1:1: the file must hold a JSON object, not a string");
  }
  SECTION("wrong types") {
    CHECK(error_of("{\"port\": {}}") ==
          "config.json:1:2: port: expected a string, a number or a boolean, not an object");
    CHECK(error_of("{\"fault_delay\": [1]}") ==
          "config.json:1:2: fault_delay: each rule must be a string such as \"/=100ms\"");
    CHECK(error_of("{\"ui\": []}") == "config.json:1:2: ui: expected an object, not an array");
    CHECK(error_of("{\"ui\": {\"title\": 3}}") == "config.json:1:9: ui.title: expected a string, not a number");
  }
  SECTION("ui values that would reach CSS or the page unchecked") {
    for (const char* bad : {"red;}", "url(x)", "#12", "#1234567", "", "expression(alert(1))", "#ggg"}) {
      CAPTURE(bad);
      const auto e = error_of(std::string(R"({"ui": {"color": ")") + bad + "\"}}");
      CHECK(e.find("ui.color: ") != std::string::npos);
    }
    for (const char* good : {"teal", "RebeccaPurple", "#0a7", "#00aa77"}) {
      CHECK(parsed(std::string(R"({"ui": {"color": ")") + good + "\"}}").ui.color == good);
    }
    CHECK(error_of(R"({"ui": {"title": ")" + std::string(kMaxUiTitle + 1, 'x') + "\"}}") ==
          "config.json:1:9: ui.title: longer than 100 bytes");
  }
  SECTION("values checked by the same rules as the flags") {
    CHECK(resolve_error(parsed("{\n\n    \"port\": \"http\"}")) ==
          "config.json:3:5: port: 'http' is not a port number (0 to 65535)");
    CHECK(resolve_error(parsed(R"({"log_level": "loud"})")) ==
          "config.json:1:2: log_level: 'loud' is not a log level (debug, info, warning or error)");
    CHECK(resolve_error(parsed(R"({"ready": "maybe"})")) ==
          "config.json:1:2: ready: 'maybe' is not a boolean (true or false)");
    CHECK(resolve_error(parsed(R"({"threads": 0})")) ==
          "config.json:1:2: threads: '0' is not a number of event loops (1 to 64)");
    CHECK(resolve_error(parsed(R"({"shutdown_delay": -1})")) ==
          "config.json:1:2: shutdown_delay: '-1' is not a duration (e.g. 10s, 500ms, 2m)");
    CHECK(resolve_error(parsed(R"({"fault_error": {"/nope": 0.5}})"))
              .rfind("config.json:1:2: fault_error: '/nope=0.5' is not ROUTE=FRACTION", 0) == 0);
    CHECK(check_settings(parsed(R"({"data_dir": ""})"))->message == "config.json:1:2: data_dir: '' is not a directory");
    CHECK_FALSE(check_settings(parsed(R"({"port": 1})")));
  }
  SECTION("a duplicate key: the last one, where it is") {
    const auto f = parsed("{\"port\": 1,\n \"port\": \"x\"}");
    CHECK(resolve_error(f) == "config.json:2:2: port: 'x' is not a port number (0 to 65535)");
  }
}

TEST_CASE("config file: unknown keys are warnings") {
  const auto f = parsed(R"({"logLevel": "debug", "LOG-FORMAT": "text", "UI": {}, "ui": {"colour": "red"}})");
  REQUIRE(f.warnings.size() == 4);
  CHECK(f.warnings[0] ==
        "config.json:1:2: logLevel: unknown key (did you mean 'log_level'?), kept as application configuration");
  CHECK(f.warnings[1].find("LOG-FORMAT: unknown key (did you mean 'log_format'?)") != std::string::npos);
  CHECK(f.warnings[2].find("UI: unknown key (did you mean 'ui'?)") != std::string::npos);
  CHECK(f.warnings[3] == "config.json:1:62: ui.colour: unknown key, ignored (ui holds title, color and message)");
  CHECK(f.app.contains("logLevel"));
  CHECK(f.ui.color.empty());
}

TEST_CASE("config file: secrets are redacted at any depth") {
  for (const char* key : {"password", "DB_PASSWORD", "dbPassword", "apiKey", "api_key", "API-KEY", "apikey", "token",
                          "accessToken", "tokens", "clientSecret", "secrets", "sshKeys", "passwd", "credentials"}) {
    CAPTURE(key);
    CHECK(looks_secret(key));
  }
  for (const char* key :
       {"appName", "monkey", "keyboard", "tokenizer", "environment", "features", "secretary", "host"}) {
    CAPTURE(key);
    CHECK_FALSE(looks_secret(key));
  }
  const auto f = parsed(R"({"db": {"host": "db", "password": "p", "replicas": [{"token": "t", "name": "a"}]},
                            "apiKey": {"nested": "whole value"}, "list": ["password"]})");
  CHECK(f.app == Json::parse(R"({"db": {"host": "db", "password": "<redacted>",
                                        "replicas": [{"token": "<redacted>", "name": "a"}]},
                                 "apiKey": "<redacted>", "list": ["password"]})"));
}

TEST_CASE("config file: what GET / shows") {
  const LoadedConfig c{"/etc/devops-info/config.json", 3,       "2026-01-01T00:00:00.000000+00:00", {"", "teal", ""},
                       Json{{"appName", "x"}},         {"port"}};
  CHECK(loaded_config_to_json(c).dump() ==
        R"({"file":"/etc/devops-info/config.json","generation":3,"loaded_at":"2026-01-01T00:00:00.000000+00:00",)"
        R"("pending_restart":["port"],"ui":{"title":null,"color":"teal","message":null},"values":{"appName":"x"}})");
}

TEST_CASE("JSON nested deeper than kMaxJsonDepth is refused before it is parsed, naming where") {
  auto nested = [](int levels) {
    return std::string(static_cast<std::size_t>(levels), '[') + std::string(static_cast<std::size_t>(levels), ']');
  };
  CHECK_FALSE(json_too_deep(nested(kMaxJsonDepth)));
  CHECK(json_too_deep(nested(kMaxJsonDepth + 1)) == std::size_t(kMaxJsonDepth));
  CHECK_FALSE(json_too_deep(R"({"a": "[[[[[[[[", "b": "\"{{{{{{{"})", 2));  // brackets in strings, escaped quotes
  CHECK(json_too_deep(R"({"a": [{"b": 1}]})", 2) == std::size_t(7));        // the third level opens at byte 7
  CHECK_FALSE(json_too_deep("not json at all ]]]]"));                       // the parser's to refuse
  const auto deep = "{\n  \"appName\": " + nested(50'000) + "\n}\n";
  const auto r = parse_config_file(deep, "config.json");
  REQUIRE(std::holds_alternative<ConfigError>(r));
  CHECK(std::get<ConfigError>(r).message == "config.json:2:77: JSON nested deeper than 64 levels");
  CHECK(std::holds_alternative<ConfigFile>(parse_config_file(R"({"app": )" + nested(20) + "}", "config.json")));
}
