#include "serve/process/tracing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include "core/probe_url.hpp"
#include "serve/client/probe.hpp"
#include "serve/net/net_error.hpp"

namespace devops::serve {

namespace {

constexpr std::string_view kDefaultEndpoint = "http://localhost:4318";
constexpr std::size_t kMaxQueue = 100'000;  // spans are a few hundred bytes each
constexpr auto kMaxMillis = std::chrono::milliseconds(600'000);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return std::string(s);
}

// The first of `names` that is set and not empty.
std::optional<std::pair<std::string, std::string>> first_set(const core::EnvLookup& env,
                                                             std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto v = env(name);
    if (v && !trimmed(*v).empty()) return std::pair{std::string(name), trimmed(*v)};
  }
  return std::nullopt;
}

// A whole number in [lo, hi], or the default with a warning.
std::uint64_t number(const core::EnvLookup& env, std::initializer_list<const char*> names, std::uint64_t fallback,
                     std::uint64_t lo, std::uint64_t hi, std::vector<std::string>& warnings) {
  const auto v = first_set(env, names);
  if (!v) return fallback;
  std::uint64_t n = 0;
  const auto& text = v->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < lo || n > hi) {
    warnings.push_back(
        fmt::format("{}=\"{}\" is not a whole number from {} to {}; using {}", v->first, text, lo, hi, fallback));
    return fallback;
  }
  return n;
}

std::chrono::milliseconds millis(const core::EnvLookup& env, std::initializer_list<const char*> names,
                                 std::chrono::milliseconds fallback, std::vector<std::string>& warnings) {
  return std::chrono::milliseconds(number(env, names, static_cast<std::uint64_t>(fallback.count()), 1,
                                          static_cast<std::uint64_t>(kMaxMillis.count()), warnings));
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

std::optional<std::string> percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size()) return std::nullopt;
    const auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || end != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

}  // namespace

std::string otlp_headers(const std::string& text, std::vector<std::string>& warnings) {
  std::string out;
  std::string_view rest(text);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto pair = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto eq = pair.find('=');
    const auto key = trimmed(pair.substr(0, eq));
    const auto value = eq == std::string_view::npos ? std::nullopt : percent_decoded(trimmed(pair.substr(eq + 1)));
    const bool clean = value && std::none_of(value->begin(), value->end(),
                                             [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
    if (!is_token(key) || !clean) {
      if (!trimmed(pair).empty())
        warnings.push_back(fmt::format("OTEL_EXPORTER_OTLP_HEADERS: \"{}\" is not name=value; skipped", key));
      continue;
    }
    out += fmt::format("{}: {}\r\n", key, trimmed(*value));
  }
  return out;
}

Tracing setup_tracing(const core::EnvLookup& env, const std::string& version, trace::ExportStats& stats) {
  Tracing t;
  auto& warnings = t.warnings;
  const auto service = first_set(env, {"OTEL_SERVICE_NAME"});
  const auto attributes = first_set(env, {"OTEL_RESOURCE_ATTRIBUTES"});
  auto resource = trace::make_resource(service ? service->second : "", version, attributes ? attributes->second : "");
  t.service_name = resource.front().second;

  std::string why;
  const auto sampler_name = first_set(env, {"OTEL_TRACES_SAMPLER"});
  const auto sampler_arg = first_set(env, {"OTEL_TRACES_SAMPLER_ARG"});
  if (auto s = trace::parse_sampler(sampler_name ? lower(sampler_name->second) : "",
                                    sampler_arg ? sampler_arg->second : "", why)) {
    t.sampler = *s;
  } else {
    warnings.push_back(fmt::format("OTEL_TRACES_SAMPLER: {}; using parentbased_always_on", why));
  }

  const auto disabled = first_set(env, {"OTEL_SDK_DISABLED"});
  if (disabled && lower(disabled->second) == "true") return t;
  const auto exporter = first_set(env, {"OTEL_TRACES_EXPORTER"});
  const std::string exporter_name = exporter ? lower(exporter->second) : "";
  if (exporter_name == "none") return t;
  if (!exporter_name.empty() && exporter_name != "otlp") {
    warnings.push_back(fmt::format("OTEL_TRACES_EXPORTER=\"{}\": only otlp (and none) are supported; not exporting",
                                   exporter->second));
    return t;
  }
  std::string endpoint;
  if (auto e = first_set(env, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"})) {
    endpoint = e->second;  // as given: the full URL
  } else {
    auto base = first_set(env, {"OTEL_EXPORTER_OTLP_ENDPOINT"});
    if (!base && exporter_name.empty()) return t;  // nothing asks for traces
    std::string b = base ? base->second : std::string(kDefaultEndpoint);
    while (!b.empty() && b.back() == '/') b.pop_back();
    endpoint = b + "/v1/traces";
  }
  auto parsed = core::parse_http_url(endpoint);
  if (auto* e = std::get_if<core::ConfigError>(&parsed)) {
    warnings.push_back(fmt::format("the OTLP endpoint \"{}\" is not an http:// or https:// URL ({}); not exporting",
                                   endpoint, e->message));
    return t;
  }
  const auto target = std::get<core::HttpTarget>(parsed);
  if (target.scheme != core::ProbeScheme::Http) {
    warnings.push_back(
        fmt::format("the OTLP endpoint \"{}\" is not an http:// or https:// URL; not exporting", endpoint));
    return t;
  }
  if (auto p = first_set(env, {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"});
      p && lower(p->second) != "http/json") {
    warnings.push_back(fmt::format("{}=\"{}\": only http/json is spoken; sending http/json", p->first, p->second));
  }
  TlsClientOptions tls;
  if (auto ca = first_set(env, {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"}))
    tls.cacert = ca->second;
  std::string headers;
  if (auto h = first_set(env, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"}))
    headers = otlp_headers(h->second, warnings);

  trace::BatchConfig batch;
  batch.schedule_delay = millis(env, {"OTEL_BSP_SCHEDULE_DELAY"}, batch.schedule_delay, warnings);
  batch.export_timeout = millis(env, {"OTEL_BSP_EXPORT_TIMEOUT"}, batch.export_timeout, warnings);
  batch.request_timeout =
      millis(env, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"}, batch.request_timeout, warnings);
  batch.max_queue = number(env, {"OTEL_BSP_MAX_QUEUE_SIZE"}, batch.max_queue, 1, kMaxQueue, warnings);
  batch.max_batch = number(env, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE"}, batch.max_batch, 1, kMaxQueue, warnings);
  if (batch.max_batch > batch.max_queue) {
    warnings.push_back(fmt::format("OTEL_BSP_MAX_EXPORT_BATCH_SIZE={} is larger than the queue; using {}",
                                   batch.max_batch, batch.max_queue));
    batch.max_batch = batch.max_queue;
  }

  auto post = [target, tls, headers, agent = "devops-info/" + version](const std::string& body,
                                                                       std::chrono::milliseconds timeout) {
    HttpCall call;
    call.method = "POST";
    call.body = body;
    call.content_type = "application/json";
    call.user_agent = agent;
    call.headers = headers;
    call.max_body = std::size_t{64} * 1024;
    const auto r = http_request(target, call, timeout, tls);
    trace::PostResult out;
    if (r.error != NetError::None) {
      out.error = r.problem.empty() ? std::string(describe(r.error)) : r.problem;
      return out;
    }
    out.status = r.status;
    return out;
  };
  t.endpoint = endpoint;
  t.exporter = std::make_unique<trace::SpanExporter>(batch, std::move(resource), version, std::move(post), stats);
  return t;
}

}  // namespace devops::serve
