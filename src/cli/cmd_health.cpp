// devops-info health
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/collect.hpp"
#include "core/config_values.hpp"
#include "core/exit_codes.hpp"
#include "core/health.hpp"
#include "core/host.hpp"
#include "core/json_depth.hpp"
#include "core/probe_url.hpp"
#include "core/render.hpp"
#include "serve/client/control_client.hpp"
#include "serve/client/grpc_probe.hpp"
#include "serve/client/probe.hpp"

namespace devops::cli {

namespace {

enum class Format { Json, Table };

struct HealthOptions {
  Format format = Format::Json;
  bool compact = false;
  bool local = false;
  std::string url;
  std::string timeout = "5s";
  std::string wait = "0s";
  std::string interval = "1s";
  std::vector<std::string> set;  // KEY=BOOL for the control channel
  serve::TlsClientOptions tls;   // https:// and grpcs://
};

std::string render(const HealthOptions& o, const core::Json& doc) {
  if (o.format == Format::Table) {
    if (auto h = core::health_from_json(doc)) return core::health_to_table(*h);
  }
  return core::render_json(doc, o.compact ? core::JsonStyle::Compact : core::JsonStyle::Pretty);
}

int run_local(const HealthOptions& o) {
  const auto h =
      core::make_health(core::HealthStatus::Healthy, std::chrono::system_clock::now(), core::process_start());
  return write_stdout(render(o, core::health_to_json(h))) ? kExitOk : kExitFailure;
}

// What one probe found: healthy or not, why not, and the document if any.
struct Verdict {
  bool healthy = false;
  std::string problem;
  std::optional<core::Json> doc;
};

// A health document is flat; this bounds the work a hostile one can cause.
constexpr int kMaxHealthDepth = 32;

Verdict judge(const std::string& url, const serve::ProbeResult& r) {
  Verdict v;
  if (r.error != serve::NetError::None) {
    v.problem = r.problem.empty() ? fmt::format("{}: {}", url, serve::describe(r.error))
                                  : fmt::format("{}: {}: {}", url, serve::describe(r.error), r.problem);
    return v;
  }
  if (r.body_too_large) {
    v.problem =
        fmt::format("{} answered more than {} KiB, too much for a health document", url, serve::kMaxProbeBody / 1024);
    return v;
  }
  if (r.status >= 300 && r.status < 400) {
    v.problem = fmt::format("{} answered HTTP {}, a redirect to {} (not followed)", url, r.status,
                            r.location.empty() ? std::string("nowhere (no Location)") : r.location);
    return v;
  }
  if (core::json_too_deep(r.body, kMaxHealthDepth)) {
    v.problem =
        fmt::format("{} answered HTTP {} with JSON nested deeper than {} levels", url, r.status, kMaxHealthDepth);
    return v;
  }
  auto doc = core::Json::parse(r.body, nullptr, false);
  if (doc.is_discarded()) {
    const auto type = r.content_type.empty() ? std::string("no Content-Type") : r.content_type;
    v.problem = fmt::format("{} answered HTTP {} but not with JSON ({})", url, r.status, type);
    return v;
  }
  std::string status = "(none)";
  if (doc.is_object() && doc.contains("status") && doc["status"].is_string()) status = doc["status"].get<std::string>();
  v.doc = std::move(doc);
  if (r.status != 200) {
    v.problem = fmt::format("{} answered HTTP {} (status: {})", url, r.status, status);
  } else if (status != "healthy") {
    v.problem = fmt::format("{} answered HTTP 200 but status is {}", url, status);
  } else {
    v.healthy = true;
  }
  return v;
}

// A gRPC health Check: healthy on SERVING only. The document printed says
// what the server answered.
Verdict judge_grpc(const std::string& url, const core::HttpTarget& t, const serve::GrpcProbeResult& r) {
  Verdict v;
  if (r.error != serve::NetError::None) {
    v.problem = fmt::format("{}: {}", url, r.problem.empty() ? std::string(serve::describe(r.error)) : r.problem);
    return v;
  }
  core::Json doc{{"service", t.grpc_service()}, {"grpc_status", r.grpc_status}};
  if (r.grpc_status != 0) {
    doc["grpc_message"] = r.grpc_message;
    v.problem = fmt::format("{} answered gRPC status {}{}{}", url, r.grpc_status, r.grpc_message.empty() ? "" : ": ",
                            r.grpc_message);
  } else {
    const auto status = serve::serving_status_name(r.serving);
    doc["status"] = status;
    if (r.serving == 1) {
      v.healthy = true;
    } else {
      v.problem = fmt::format("{} answered {}", url, status);
    }
  }
  v.doc = std::move(doc);
  return v;
}

// --url, or the default http://127.0.0.1:${PORT:-5000}/health; nullopt (the
// error printed) when PORT is bad.
std::optional<std::string> url_of(const HealthOptions& o, const CLI::App& sub) {
  if (sub.count("--url") != 0) return o.url;
  auto d = core::default_probe_url(core::environment_value);
  if (auto* e = std::get_if<core::ConfigError>(&d)) {
    print_error(e->message);
    return std::nullopt;
  }
  return std::get<std::string>(d);
}

int run_probe(const HealthOptions& o, const CLI::App& sub) {
  using namespace std::chrono;
  const auto given = url_of(o, sub);
  if (!given) return kExitUsage;
  const std::string& url = *given;
  auto target = core::parse_http_url(url);
  auto timeout = core::parse_duration_option("--timeout", o.timeout);
  auto wait = core::parse_duration_option("--wait", o.wait);
  auto interval = core::parse_duration_option("--interval", o.interval);
  for (const core::ConfigError* e :
       {std::get_if<core::ConfigError>(&target), std::get_if<core::ConfigError>(&timeout),
        std::get_if<core::ConfigError>(&wait), std::get_if<core::ConfigError>(&interval)}) {
    if (e != nullptr) {
      print_error(e->message);
      return kExitUsage;
    }
  }
  const auto per_try = std::get<milliseconds>(timeout);
  const auto wait_for = std::get<milliseconds>(wait);
  const auto pause = std::max(std::get<milliseconds>(interval), milliseconds(10));
  if (per_try <= milliseconds(0)) {
    print_error("--timeout: must be more than 0");
    return kExitUsage;
  }

  const auto deadline = steady_clock::now() + wait_for;
  Verdict v;
  while (true) {
    auto limit = per_try;
    if (wait_for > milliseconds(0)) {
      // Never run past the deadline by more than a short connect attempt.
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
      limit = std::clamp(left, milliseconds(100), per_try);
    }
    const auto& t = std::get<core::HttpTarget>(target);
    v = t.scheme == core::ProbeScheme::Grpc ? judge_grpc(url, t, serve::grpc_health_check(t, limit, o.tls))
                                            : judge(url, serve::http_get(t, limit, o.tls));
    if (v.healthy || steady_clock::now() + pause >= deadline) break;
    std::this_thread::sleep_for(pause);
  }
  if (v.doc && !write_stdout(render(o, *v.doc))) return kExitFailure;
  if (v.healthy) return kExitOk;
  if (wait_for > milliseconds(0)) {
    print_error(fmt::format("not healthy after {}: {}", core::format_duration(wait_for), v.problem));
  } else {
    print_error(v.problem);
  }
  return kExitFailure;
}

// --set: the server's probe switches, through its control channel on the
// URL's port (the default URL's: ${PORT:-5000}).
int run_set(const HealthOptions& o, const CLI::App& sub) {
  const auto given = url_of(o, sub);
  if (!given) return kExitUsage;
  const std::string& url = *given;
  auto target = core::parse_http_url(url);
  auto timeout = core::parse_duration_option("--timeout", o.timeout);
  for (const core::ConfigError* e :
       {std::get_if<core::ConfigError>(&target), std::get_if<core::ConfigError>(&timeout)}) {
    if (e != nullptr) {
      print_error(e->message);
      return kExitUsage;
    }
  }
  std::string command;
  for (const auto& s : o.set) {
    const auto eq = s.find('=');
    const std::string key = s.substr(0, eq);
    const auto value = eq == std::string::npos ? std::optional<bool>() : core::parse_bool(s.substr(eq + 1));
    if ((key != "ready" && key != "healthy") || !value || s.substr(eq + 1).empty()) {
      print_error(fmt::format("--set: '{}' is not ready=true|false or healthy=true|false", s));
      return kExitUsage;
    }
    command += fmt::format("{}{}={}", command.empty() ? "" : " ", key, *value ? "true" : "false");
  }
  const auto& t = std::get<core::HttpTarget>(target);
  if (t.host != "127.0.0.1" && t.host != "::1" && t.host != "localhost") {
    print_error(fmt::format("--set: '{}' is not this machine: --set only reaches a server here", t.host));
    return kExitUsage;
  }
  const auto reply = serve::control_request(t.port, command, std::get<std::chrono::milliseconds>(timeout));
  if (!reply.ok) {
    print_error(reply.text);
    return kExitFailure;
  }
  auto doc = core::json_too_deep(reply.text) ? core::Json(core::Json::value_t::discarded)
                                             : core::Json::parse(reply.text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    print_error("the server's control channel answered something that is not JSON");
    return kExitFailure;
  }
  if (doc.contains("error")) {
    print_error(
        fmt::format("the server refused: {}", doc["error"].is_string() ? doc["error"].get<std::string>() : "?"));
    return kExitFailure;
  }
  return write_stdout(core::render_json(doc, o.compact ? core::JsonStyle::Compact : core::JsonStyle::Pretty))
             ? kExitOk
             : kExitFailure;
}

}  // namespace

Runner setup_health(CLI::App& sub) {
  auto o = std::make_shared<HealthOptions>();
  const std::map<std::string, Format> formats{{"json", Format::Json}, {"table", Format::Table}};
  sub.add_option("-f,--format", o->format, "Output format: json (default) or table")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->option_text("json|table");
  sub.add_flag("-c,--compact", o->compact, "With --format json: one line instead of indented");
  sub.add_option("--url", o->url,
                 "Server to probe (default, without --local: http://127.0.0.1:${PORT:-5000}/health). "
                 "Exit 0 only for HTTP 200 with \"status\": \"healthy\"; for grpc://HOST:PORT/SERVICE (a gRPC "
                 "health Check over HTTP/2; SERVICE liveness, readiness or none), only for SERVING. https:// and "
                 "grpcs:// the same over TLS")
      ->option_text("URL");
  sub.add_option("--cacert", o->tls.cacert,
                 "https://, grpcs://: verify the server against these PEM CAs (default: the system's; a scratch "
                 "image has none)")
      ->option_text("FILE");
  sub.add_flag("--insecure", o->tls.insecure,
               "https://, grpcs://: DO NOT VERIFY the server's certificate: encrypted, but to whoever answers. "
               "For tests only");
  sub.add_option("--cert", o->tls.cert, "https://, grpcs://: a PEM client certificate, for mutual TLS")
      ->option_text("FILE");
  sub.add_option("--key", o->tls.key, "The client certificate's PEM key (default: in --cert's file)")
      ->option_text("FILE");
  sub.add_option("--timeout", o->timeout,
                 "Limit for each attempt as a whole: connect, send, headers and body (default 5s)")
      ->option_text("DURATION");
  sub.add_option("--wait", o->wait, "Retry until healthy or this much time has passed (default 0: one attempt)")
      ->option_text("DURATION");
  sub.add_option("--interval", o->interval, "With --wait: pause between attempts (default 1s)")
      ->option_text("DURATION");
  sub.add_flag("--local", o->local,
               "Print this process's own health document instead of probing a server (probing is the default)");
  sub.add_option("--set", o->set,
                 "Flip the local server's /ready or /health (the --url's port): ready=false, healthy=true, ...; "
                 "repeatable. Prints the new state")
      ->option_text("KEY=BOOL")
      ->allow_extra_args(false);
  sub.footer(
      "Durations: 500ms, 5s, 1.5s, 2m (a bare number is seconds).\n"
      "Examples:\n"
      "  devops-info health --url http://10.0.0.5:8080/health --timeout 2s --format table\n"
      "  devops-info health --wait 30s     # CI: wait until the service is up\n"
      "  devops-info health --url grpc://127.0.0.1:5000/readiness   # as the kubelet's grpc probe asks");
  const CLI::App* self = &sub;
  return [o, self] {
    if (!o->set.empty()) {
      for (const char* name : {"--local", "--wait", "--interval", "--format"}) {
        if (self->count(name) > 0) {
          print_error(fmt::format("--set cannot be combined with {}", name));
          return static_cast<int>(kExitUsage);
        }
      }
      return run_set(*o, *self);
    }
    if (!o->local) return run_probe(*o, *self);
    // Checked here rather than with CLI11's excludes(), which clutters --help.
    for (const char* name : {"--url", "--timeout", "--wait", "--interval"}) {
      if (self->count(name) > 0) {
        print_error(fmt::format("--local cannot be combined with {}", name));
        return static_cast<int>(kExitUsage);
      }
    }
    return run_local(*o);
  };
}

}  // namespace devops::cli
