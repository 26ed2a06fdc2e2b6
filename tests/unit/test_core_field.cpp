#include "catch.hpp"
#include "core/render.hpp"

using namespace devops::core;

namespace {
const Json& doc() {
  static const Json d = Json::parse(R"({
    "system": {"hostname": "web-1", "cpu_count": 4, "load_average": {"1m": 0.5},
               "os": {"name": null}},
    "container": {"in_container": true, "cpu_limit": 0.5},
    "endpoints": [{"path": "/"}, {"path": "/health"}]
  })");
  return d;
}
}  // namespace

TEST_CASE("fields are found by dotted path and printed raw") {
  auto f = lookup_field(doc(), "system.hostname");
  REQUIRE(f.value != nullptr);
  CHECK(field_text(*f.value) == "web-1");
  CHECK(field_text(*lookup_field(doc(), "system.cpu_count").value) == "4");
  CHECK(field_text(*lookup_field(doc(), "system.load_average.1m").value) == "0.5");
  CHECK(field_text(*lookup_field(doc(), "container.in_container").value) == "true");
  CHECK(field_text(*lookup_field(doc(), "system.os.name").value).empty());
  CHECK(field_text(*lookup_field(doc(), "endpoints.1.path").value) == "/health");
  CHECK(field_text(*lookup_field(doc(), "system.os").value) == R"({"name":null})");
}

TEST_CASE("unknown fields say what exists there") {
  auto f = lookup_field(doc(), "system.hostnam");
  CHECK(f.value == nullptr);
  CHECK(f.error == "unknown field 'system.hostnam'; fields of system: hostname, cpu_count, load_average, os");
  CHECK(lookup_field(doc(), "nope").error.find("top-level fields: system, container, endpoints") != std::string::npos);
  CHECK(lookup_field(doc(), "endpoints.2").value == nullptr);
  CHECK(lookup_field(doc(), "endpoints.x").value == nullptr);
  CHECK(lookup_field(doc(), "system.hostname.x").error.find("single value") != std::string::npos);
  CHECK(lookup_field(doc(), "").value == nullptr);
  CHECK(lookup_field(doc(), "system.").value == nullptr);
}

TEST_CASE("shell quoting survives spaces, quotes, newlines and unicode") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("two words") == "'two words'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("$(rm -rf /) `x` \"y\"") == "'$(rm -rf /) `x` \"y\"'");
  CHECK(shell_quote("line1\nline2\r\t") == "'line1 line2  '");
  CHECK(shell_quote("Débian ✓ 日本") == "'Débian ✓ 日本'");
}

TEST_CASE("env lines use upper-case paths") {
  const auto env = render_env(doc());
  CHECK(env.find("DEVOPS_INFO_SYSTEM_HOSTNAME='web-1'\n") != std::string::npos);
  CHECK(env.find("DEVOPS_INFO_SYSTEM_LOAD_AVERAGE_1M='0.5'\n") != std::string::npos);
  CHECK(env.find("DEVOPS_INFO_SYSTEM_OS_NAME=''\n") != std::string::npos);
  CHECK(env.find("DEVOPS_INFO_ENDPOINTS_1_PATH='/health'\n") != std::string::npos);
  CHECK(env.find("DEVOPS_INFO_CONTAINER_IN_CONTAINER='true'\n") != std::string::npos);
}
