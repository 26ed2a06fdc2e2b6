#include "catch.hpp"
#include "core/collect.hpp"
#include "core/render.hpp"
#include "fixture.hpp"

using namespace devops::core;
using devops::test::matches_golden;

namespace {

// A report from a fixture with the build-dependent parts fixed.
Report fixed_report(const std::string& name) {
  using namespace std::chrono;
  auto host = devops::test::fixture(name);
  // Every fixture sees the downward API's variables; only the pod reports them.
  host.getenv = [](const std::string& n) -> std::optional<std::string> {
    if (n == "POD_NAME") return "devops-info-7d9c5b6f4-x2x8q";
    if (n == "POD_NAMESPACE") return "web";
    if (n == "NODE_NAME") return "node-a";
    return std::nullopt;
  };
  auto r = collect_report(host, devops::test::fixed_now() - seconds(7260), 4242);
  r.service.version = "1.2.3";
  r.build = {"0123456789ab", "GCC 12.2.0", "Release", "C++20"};
  return r;
}

}  // namespace

TEST_CASE("JSON rendering matches the golden files") {
  for (const std::string name : {"host-v2", "podman-v1", "docker-v2", "kubepods-v1", "empty"}) {
    INFO(name);
    const auto doc = report_to_json(fixed_report(name));
    CHECK(matches_golden(name + ".json", render_json(doc, JsonStyle::Pretty)));
  }
}

TEST_CASE("compact JSON is one line") {
  const auto text = render_json(report_to_json(fixed_report("host-v2")), JsonStyle::Compact);
  CHECK(text.find('\n') == text.size() - 1);
  CHECK(Json::parse(text) == report_to_json(fixed_report("host-v2")));
}

TEST_CASE("the JSON keeps the Flask service's keys and types") {
  const auto doc = report_to_json(fixed_report("host-v2"));
  for (const char* key : {"name", "version", "description", "framework"}) CHECK(doc["service"][key].is_string());
  CHECK(doc["service"]["name"] == "devops-info-service");
  CHECK(doc["service"]["description"] == "DevOps course info service");
  for (const char* key : {"hostname", "platform", "platform_version", "platform_release", "architecture"}) {
    CHECK(doc["system"][key].is_string());
  }
  CHECK(doc["system"]["cpu_count"].is_number_integer());
  CHECK(doc["runtime"]["uptime_seconds"] == 7260);
  CHECK(doc["runtime"]["uptime_human"] == "2 hours, 1 minutes");
  CHECK(doc["system"]["platform_version"] == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
  CHECK(doc["system"]["platform_release"] == "6.1.0-18-amd64");
  CHECK(doc["runtime"]["current_time"] == "2026-11-28T14:34:56.789012+00:00");
  CHECK(doc["runtime"]["timezone"] == "UTC");
  REQUIRE(doc["endpoints"].is_array());
  CHECK(doc["endpoints"][0]["path"] == "/");
  CHECK(doc["endpoints"][1]["path"] == "/health");
  CHECK_FALSE(doc.contains("request"));
}

TEST_CASE("the request section is added for GET /") {
  const RequestInfo req{"127.0.0.1", "curl/8.0", "GET", "/"};
  const auto doc = report_to_json(fixed_report("host-v2"), &req);
  CHECK(doc["request"]["client_ip"] == "127.0.0.1");
  CHECK(doc["request"]["user_agent"] == "curl/8.0");
  CHECK(doc["request"]["method"] == "GET");
  CHECK(doc["request"]["path"] == "/");
}

TEST_CASE("invalid UTF-8 in a fact is replaced, not thrown") {
  auto r = fixed_report("host-v2");
  r.system.hostname = std::string("bad\xff\xfe");
  const auto text = render_json(report_to_json(r), JsonStyle::Compact);
  CHECK(text.find("bad\xEF\xBF\xBD") != std::string::npos);
}

TEST_CASE("table rendering matches the golden files") {
  for (const std::string name : {"host-v2", "podman-v1", "kubepods-v1", "empty"}) {
    INFO(name);
    CHECK(matches_golden(name + ".table", render_table(fixed_report(name), Color::Off)));
  }
  const auto colored = render_table(fixed_report("podman-v1"), Color::On);
  CHECK(colored.find("\x1b[1mService\x1b[0m") != std::string::npos);
  CHECK(render_table(fixed_report("podman-v1"), Color::Off).find('\x1b') == std::string::npos);
}

TEST_CASE("Markdown rendering matches the golden files and shows the table's facts") {
  for (const std::string name : {"host-v2", "kubepods-v1", "empty"}) {
    INFO(name);
    CHECK(matches_golden(name + ".md", render_markdown(fixed_report(name))));
  }
  const auto md = render_markdown(fixed_report("kubepods-v1"));
  CHECK(md.find("### Container\n") != std::string::npos);
  CHECK(md.find("| pod | ") != std::string::npos);
}

TEST_CASE("Markdown cells are inert: no HTML, no marks, no line breaks, no pipes") {
  CHECK(markdown_cell("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;");
  CHECK(markdown_cell("a|b") == "a\\|b");
  CHECK(markdown_cell("*bold* _it_ `code` [link](x) #h ~s~ \\") ==
        "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](x) \\#h \\~s\\~ \\\\");
  CHECK(markdown_cell("one\ntwo\r\tthree") == "one two  three");
  CHECK(markdown_cell("&amp;") == "&amp;amp;");
  auto r = fixed_report("empty");
  r.system.hostname = "evil|<b>host</b>\n| injected | row |";
  const auto md = render_markdown(r);
  CHECK(md.find("<b>") == std::string::npos);
  CHECK(md.find("\n| injected") == std::string::npos);
  CHECK(md.starts_with("## "));
}

TEST_CASE("env rendering matches the golden files") {
  CHECK(matches_golden("podman-v1.env", render_env(report_to_json(fixed_report("podman-v1")))));
  CHECK(matches_golden("kubepods-v1.env", render_env(report_to_json(fixed_report("kubepods-v1")))));
}

TEST_CASE("container.kubernetes is null off Kubernetes and an object of strings in a pod") {
  CHECK(report_to_json(fixed_report("host-v2"))["container"]["kubernetes"].is_null());
  CHECK(report_to_json(fixed_report("podman-v1"))["container"]["kubernetes"].is_null());
  const auto k = report_to_json(fixed_report("kubepods-v1"))["container"]["kubernetes"];
  CHECK(k == Json{{"pod_name", "devops-info-7d9c5b6f4-x2x8q"}, {"namespace", "web"}, {"node_name", "node-a"}});
  auto r = fixed_report("kubepods-v1");
  r.container.kubernetes->node_name.reset();
  CHECK(report_to_json(r)["container"]["kubernetes"]["node_name"].is_null());
}
