#include <fmt/format.h>
#include "catch.hpp"
#include "core/collect.hpp"

#include <regex>

#include "core/render.hpp"
#include "core/sha256.hpp"
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

TEST_CASE("HTML rendering matches the golden files") {
  for (const std::string name : {"host-v2", "kubepods-v1", "empty"}) {
    INFO(name);
    CHECK(matches_golden(name + ".html", render_html(fixed_report(name), {}).html));
  }
  auto r = fixed_report("kubepods-v1");
  r.config = Json::parse(R"({"file": "/etc/devops-info/config.json", "generation": 2,
    "loaded_at": "2026-11-28T14:34:56.789012+00:00", "pending_restart": ["port"],
    "ui": {"title": "Canary", "color": "teal", "message": "v2 of the demo"},
    "values": {"appName": "devops-info", "features": {"visitsCounter": true}}})");
  const RequestInfo request{"10.0.0.7", "Mozilla/5.0", "GET", "/"};
  CHECK(matches_golden("kubepods-v1.live.html", render_html(r, {&request, "42", true}).html));
}

TEST_CASE("the page shows the facts, the pod, the config and the colour, and admits only its own style and script") {
  auto r = fixed_report("kubepods-v1");
  r.config = Json::parse(R"({"file": "f", "generation": 3, "loaded_at": "t", "pending_restart": [],
    "ui": {"title": null, "color": "#0a7", "message": "canary"}, "values": {"appName": "demo"}})");
  const RequestInfo request{"10.0.0.7", "curl", "GET", "/"};
  const auto live = render_html(r, {&request, "42", true});
  for (const char* text :
       {"devops-info-7d9c5b6f4-x2x8q", "node-a", "<th>namespace</th><td>web</td>", "1.2.3", "--accent:#0a7",
        "<p class=\"message\">canary</p>", "&quot;appName&quot;: &quot;demo&quot;", "<td id=\"visits\">42</td>",
        "<td id=\"uptime\">", "<td id=\"current-time\">", "<th>client ip</th><td>10.0.0.7</td>", "<script>"}) {
    CAPTURE(text);
    CHECK(live.html.find(text) != std::string::npos);
  }
  // The policy admits the one style and the one script by their hashes, and nothing else.
  const auto style = live.html.substr(live.html.find("<style>") + 7);
  const auto script = live.html.substr(live.html.find("<script>") + 8);
  CHECK(live.csp == "default-src 'none'; style-src " + csp_hash(style.substr(0, style.find("</style>"))) +
                        "; script-src " + csp_hash(script.substr(0, script.find("</script>"))) +
                        "; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'");
  CHECK(live.html.find("style=") == std::string::npos);                        // no inline style attributes
  CHECK_FALSE(std::regex_search(live.html, std::regex(R"(\son[a-z]+\s*=)")));  // no event handler attributes
  CHECK(live.html.find("http://") == std::string::npos);
  CHECK(live.html.find("https://") == std::string::npos);
  const auto still = render_html(r, {});
  CHECK(still.html.find("<script") == std::string::npos);
  CHECK(still.csp.find("script-src 'none'; connect-src 'none'") != std::string::npos);
  CHECK(still.html.find("<meta http-equiv=\"Content-Security-Policy\" content=\"" + html_escape(still.csp) + "\">") !=
        std::string::npos);
}

TEST_CASE("every value on the page is inert") {
  const std::string evil = "<script>alert(\"x\")</script>' onload='x' &amp; \x01";
  CHECK(html_escape(evil) ==
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onload=&#39;x&#39; &amp;amp; \xEF\xBF\xBD");
  auto r = fixed_report("empty");
  r.system.hostname = evil;
  r.config = Json{{"file", evil},
                  {"generation", 1},
                  {"loaded_at", "t"},
                  {"pending_restart", Json::array()},
                  {"ui", {{"title", evil}, {"color", "red;}</style><script>x()</script>"}, {"message", evil}}},
                  {"values", {{evil, evil}}}};
  const RequestInfo request{evil, evil, evil, evil};
  const auto page = render_html(r, {&request, evil, true});
  CHECK(page.html.find("<script>alert") == std::string::npos);
  CHECK(page.html.find("' onload='") == std::string::npos);
  CHECK(page.html.find("</style><script>") == std::string::npos);
  CHECK(page.html.find("--accent:#326ce5") != std::string::npos);  // a colour that is not one: the default
  std::size_t scripts = 0;
  for (auto at = page.html.find("<script"); at != std::string::npos; at = page.html.find("<script", at + 1)) ++scripts;
  CHECK(scripts == 1);
}

TEST_CASE("SHA-256 and base64 for the page's hashes") {
  auto hex = [](const std::array<std::uint8_t, 32>& d) {
    std::string out;
    for (const auto b : d) out += fmt::format("{:02x}", b);
    return out;
  };
  CHECK(hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(hex(sha256(std::string(1000000, 'a'))) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  for (const std::size_t n : {55UL, 56UL, 63UL, 64UL, 65UL, 119UL, 120UL}) {  // the padding's edges
    CAPTURE(n);
    CHECK(sha256(std::string(n, 'x')) != sha256(std::string(n + 1, 'x')));
  }
  const std::string_view man = "Man";
  CHECK(base64(reinterpret_cast<const std::uint8_t*>(man.data()), 3) == "TWFu");
  CHECK(base64(reinterpret_cast<const std::uint8_t*>(man.data()), 2) == "TWE=");
  CHECK(base64(reinterpret_cast<const std::uint8_t*>(man.data()), 1) == "TQ==");
  // What a browser computes for <script>alert('Hello, world.');</script> (the CSP specification's example).
  CHECK(csp_hash("alert('Hello, world.');") == "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='");
}
