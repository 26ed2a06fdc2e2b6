#include "core/serve_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "core/cidr.hpp"
#include "core/config_file.hpp"
#include "core/endpoints.hpp"
#include "core/probe_url.hpp"

namespace devops::core {

namespace {

constexpr std::string_view kPortExpected = "a port number (0 to 65535)";
constexpr std::string_view kHostExpected = "a numeric IPv4 or IPv6 address (e.g. 0.0.0.0, 127.0.0.1, ::)";

// The items of a comma-separated list, spaces around each trimmed; none for "".
std::vector<std::string> comma_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.emplace_back(item);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return out;
}

// "/, /health, /ready, ..." for the error messages.
std::string route_list() {
  std::string out;
  for (const auto& e : endpoints()) out += (out.empty() ? "" : ", ") + std::string(e.path);
  return out + " or *";
}

// ROUTE=VALUE, ROUTE a path of the endpoint table or "*" (every route).
std::optional<std::pair<std::string, std::string_view>> split_rule(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string route(text.substr(0, eq));
  if (route != "*" &&
      std::none_of(endpoints().begin(), endpoints().end(), [&](const Endpoint& e) { return e.path == route; })) {
    return std::nullopt;
  }
  return std::pair<std::string, std::string_view>{route, text.substr(eq + 1)};
}

// The faults of --fault-delay and --fault-error, one entry per route; a later
// rule for the same route replaces an earlier one of the same kind.
// A rule list and the name its errors give (--fault-delay, or the file's place of the key).
struct Rules {
  const std::vector<std::string>* rules;
  std::string name;
};

std::variant<std::vector<RouteFault>, ConfigError> parse_faults(const Rules& delays, const Rules& errors) {
  std::vector<RouteFault> faults;
  for (const auto& e : endpoints()) faults.push_back({std::string(e.path), {}, {}, 0});
  auto apply = [&](const std::string& route, auto&& set) {
    for (auto& f : faults) {
      if (route == "*" || route == f.route) set(f);
    }
  };
  for (const auto& text : *delays.rules) {
    const auto rule = split_rule(text);
    std::optional<std::chrono::milliseconds> lo;
    std::optional<std::chrono::milliseconds> hi;
    if (rule) {
      const auto dash = rule->second.find('-');
      lo = parse_duration(rule->second.substr(0, dash));
      hi = dash == std::string_view::npos ? lo : parse_duration(rule->second.substr(dash + 1));
    }
    if (!lo || !hi || *lo > *hi || *hi > kMaxFaultDelay) {
      return invalid_value(delays.name, text,
                           fmt::format("ROUTE=DURATION or ROUTE=MIN-MAX up to {} (ROUTE: {})",
                                       format_duration(kMaxFaultDelay), route_list()));
    }
    apply(rule->first, [&](RouteFault& f) {
      f.delay_min = *lo;
      f.delay_max = *hi;
    });
  }
  for (const auto& text : *errors.rules) {
    const auto rule = split_rule(text);
    double fraction = -1;
    if (rule) {
      const auto v = rule->second;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), fraction);
      if (ec != std::errc() || p != v.data() + v.size() || v.empty() || !std::isfinite(fraction)) fraction = -1;
    }
    if (fraction < 0 || fraction > 1) {
      return invalid_value(errors.name, text,
                           fmt::format("ROUTE=FRACTION, a fraction from 0 to 1 (ROUTE: {})", route_list()));
    }
    apply(rule->first, [&](RouteFault& f) { f.error_fraction = fraction; });
  }
  std::erase_if(faults, [](const RouteFault& f) { return f.delay_max.count() == 0 && f.error_fraction == 0; });
  return faults;
}

}  // namespace

std::variant<ServeConfig, ConfigError> resolve_serve_config(const ServeFlags& flags, const EnvLookup& env,
                                                            const ConfigFile* file) {
  ServeConfig c;
  // A value and the name its error message gives: the flag, the variable or
  // the file's "config.json:3:11: port".
  struct Given {
    std::string name;
    std::string text;
  };
  auto from_env = [&](const char* var) -> std::optional<Given> {
    // An empty variable counts as unset, as in the service this replaces.
    if (auto v = env ? env(var) : std::nullopt; v && !v->empty()) return Given{var, *v};
    return std::nullopt;
  };
  auto from_file = [&](std::string_view key) -> std::optional<Given> {
    if (file == nullptr) return std::nullopt;
    const auto it = file->settings.find(key);
    if (it == file->settings.end() || it->second.values.empty()) return std::nullopt;
    return Given{it->second.where, it->second.values.front()};
  };
  auto pick = [&](const std::optional<std::string>& flag, const char* flag_name, const char* var,
                  std::string_view key) -> std::optional<Given> {
    if (flag) return Given{flag_name, *flag};
    if (var != nullptr) {
      if (auto v = from_env(var)) return v;
    }
    return from_file(key);
  };

  if (auto h = pick(flags.host, "--host", "HOST", "host")) {
    auto host = parse_host(h->text);
    if (!host) return invalid_value(h->name, h->text, kHostExpected);
    c.host = *host;
  }
  if (auto p = pick(flags.port, "--port", "PORT", "port")) {
    auto port = parse_port(p->text);
    if (!port) return invalid_value(p->name, p->text, kPortExpected);
    c.port = *port;
  }

  if (flags.log_level) {
    c.log_level = *flags.log_level;
  } else if (auto d = from_env("DEBUG")) {
    auto on = parse_bool(d->text);
    if (!on) return invalid_value("DEBUG", d->text, "a boolean (true or false)");
    c.log_level = *on ? LogLevel::Debug : LogLevel::Info;
  } else if (auto f = from_file("log_level")) {
    auto level = parse_log_level(f->text);
    if (!level) return invalid_value(f->name, f->text, "a log level (debug, info, warning or error)");
    c.log_level = *level;
  }
  if (flags.log_format) {
    c.log_format = *flags.log_format;
  } else if (auto f = from_file("log_format")) {
    auto format = parse_log_format(f->text);
    if (!format) return invalid_value(f->name, f->text, "a log format (json or text)");
    c.log_format = *format;
  }

  // A whole number from 1 to `max`, decimal digits only.
  auto count = [](const std::string& text, std::size_t max) -> std::optional<std::size_t> {
    std::size_t n = 0;
    const auto* end = text.data() + text.size();
    const auto r = std::from_chars(text.data(), end, n);
    if (text.empty() || r.ec != std::errc() || r.ptr != end || n < 1 || n > max) return std::nullopt;
    return n;
  };
  if (auto t = pick(flags.threads, "--threads", nullptr, "threads")) {
    const auto n = count(t->text, kMaxThreads);
    if (!n) return invalid_value(t->name, t->text, fmt::format("a number of event loops (1 to {})", kMaxThreads));
    c.threads = *n;
  }
  if (auto m = pick(flags.max_connections, "--max-connections", nullptr, "max_connections")) {
    const auto n = count(m->text, kMaxMaxConnections);
    if (!n)
      return invalid_value(m->name, m->text, fmt::format("a number of connections (1 to {})", kMaxMaxConnections));
    c.max_connections = *n;
  }
  // A duration; within [first, second] of `range` when one is given.
  using Range = std::pair<std::chrono::milliseconds, std::chrono::milliseconds>;
  auto duration = [&](const std::optional<Given>& g, std::chrono::milliseconds& out,
                      const std::optional<Range>& range = std::nullopt) -> std::optional<ConfigError> {
    if (!g) return std::nullopt;
    if (range) {
      const auto d = parse_duration(g->text);
      if (!d || *d < range->first || *d > range->second) {
        return invalid_value(
            g->name, g->text,
            fmt::format("a duration from {} to {}", format_duration(range->first), format_duration(range->second)));
      }
      out = *d;
      return std::nullopt;
    }
    auto d = parse_duration_option(g->name, g->text);
    if (auto* e = std::get_if<ConfigError>(&d)) return *e;
    out = std::get<std::chrono::milliseconds>(d);
    return std::nullopt;
  };
  if (auto e = duration(pick(flags.shutdown_timeout, "--shutdown-timeout", nullptr, "shutdown_timeout"),
                        c.shutdown_timeout)) {
    return *e;
  }
  if (auto e = duration(pick(flags.shutdown_delay, "--shutdown-delay", nullptr, "shutdown_delay"), c.shutdown_delay)) {
    return *e;
  }

  // A connection's deadlines: 100ms to 1h.
  const Range conn_timeouts{kMinConnTimeout, kMaxConnTimeout};
  if (auto e = duration(pick(flags.request_timeout, "--request-timeout", nullptr, "request_timeout"), c.request_timeout,
                        conn_timeouts)) {
    return *e;
  }
  if (auto e = duration(pick(flags.idle_timeout, "--idle-timeout", nullptr, "idle_timeout"), c.idle_timeout,
                        conn_timeouts)) {
    return *e;
  }
  if (auto e = duration(pick(flags.write_timeout, "--write-timeout", nullptr, "write_timeout"), c.write_timeout,
                        conn_timeouts)) {
    return *e;
  }

  // The probe switches: a flag forces the state; else the file's true or false.
  auto probe = [&](bool flag_off, std::string_view key, bool& off) -> std::optional<ConfigError> {
    off = flag_off;
    if (flag_off) return std::nullopt;
    if (auto f = from_file(key)) {
      const auto on = parse_bool(f->text);
      if (!on) return invalid_value(f->name, f->text, "a boolean (true or false)");
      off = !*on;
    }
    return std::nullopt;
  };
  bool unready = false;
  bool unhealthy = false;
  if (auto e = probe(flags.unready, "ready", unready)) return *e;
  if (auto e = probe(flags.unhealthy, "healthy", unhealthy)) return *e;

  // The fault rules: the flags' when any is given, else the file's.
  auto rules = [&](const std::vector<std::string>& flag, const char* flag_name, std::string_view key) {
    if (!flag.empty() || file == nullptr) return Rules{&flag, flag_name};
    const auto it = file->settings.find(key);
    if (it == file->settings.end()) return Rules{&flag, flag_name};
    return Rules{&it->second.values, it->second.where};
  };
  auto faults = parse_faults(rules(flags.fault_delay, "--fault-delay", "fault_delay"),
                             rules(flags.fault_error, "--fault-error", "fault_error"));
  if (auto* e = std::get_if<ConfigError>(&faults)) return *e;
  c.switches.unready = unready;
  c.switches.unhealthy = unhealthy;
  c.switches.faults = std::get<std::vector<RouteFault>>(std::move(faults));
  c.switches.delay_path = flags.delay_path;
  if (auto g = pick(flags.introspection, "--introspection", "INTROSPECTION", "introspection")) {
    const auto on = parse_bool(g->text);
    if (!on || g->text.empty()) return invalid_value(g->name, g->text, "on or off");
    c.switches.introspection = *on;
  }
  if (auto g = pick(flags.env_allow, "--env-allow", "ENV_ALLOW", "env_allow")) {
    auto patterns = comma_list(g->text);
    const bool bad = std::any_of(patterns.begin(), patterns.end(),
                                 [](const std::string& p) { return p.empty() || p.size() > kMaxEnvPatternLength; });
    if (bad || patterns.size() > kMaxEnvPatterns) {
      return invalid_value(g->name, g->text,
                           fmt::format("comma-separated name patterns (POD_*,HOSTNAME), at most {} of {} characters",
                                       kMaxEnvPatterns, kMaxEnvPatternLength));
    }
    c.switches.env_allow = std::move(patterns);  // "": none shown
  }
  if (auto g = pick(flags.trusted_proxies, "--trusted-proxies", "TRUSTED_PROXIES", "trusted_proxies")) {
    auto ranges = comma_list(g->text);
    const bool bad = std::any_of(ranges.begin(), ranges.end(), [](const std::string& r) { return !parse_cidr(r); });
    if (bad || ranges.size() > kMaxTrustedProxies) {
      return invalid_value(
          g->name, g->text,
          fmt::format("comma-separated address ranges (10.0.0.0/8,fd00::/8), at most {}", kMaxTrustedProxies));
    }
    c.switches.trusted_proxies = std::move(ranges);
  }
  if (auto e = duration(pick(flags.max_delay, "--max-delay", "MAX_DELAY", "max_delay"), c.switches.max_delay,
                        Range{std::chrono::milliseconds(0), kMaxFaultDelay})) {
    return *e;
  }
  if (auto g = pick(flags.max_body, "--max-body", "MAX_BODY", "max_body")) {
    const auto n = parse_size(g->text);
    if (!n || *n > kMaxMaxBody) {
      return invalid_value(g->name, g->text, fmt::format("a size up to {} (64KiB, 1MiB)", format_size(kMaxMaxBody)));
    }
    c.switches.max_body = *n;
  }

  // TLS: a certificate and its key together, the client CA only with them.
  auto path = [&](const std::optional<std::string>& flag, const char* flag_name, const char* var, std::string_view key,
                  std::string& out) -> std::optional<ConfigError> {
    if (auto g = pick(flag, flag_name, var, key)) {
      if (g->text.empty()) return invalid_value(g->name, "", "a file");
      out = g->text;
    }
    return std::nullopt;
  };
  if (auto e = path(flags.tls_cert, "--tls-cert", "TLS_CERT_FILE", "tls_cert", c.tls.cert)) return *e;
  if (auto e = path(flags.tls_key, "--tls-key", "TLS_KEY_FILE", "tls_key", c.tls.key)) return *e;
  if (auto e = path(flags.tls_client_ca, "--tls-client-ca", "TLS_CLIENT_CA_FILE", "tls_client_ca", c.tls.client_ca)) {
    return *e;
  }
  if (c.tls.cert.empty() != c.tls.key.empty()) {
    return ConfigError{c.tls.cert.empty() ? "--tls-key (TLS_KEY_FILE) needs --tls-cert (TLS_CERT_FILE) too"
                                          : "--tls-cert (TLS_CERT_FILE) needs --tls-key (TLS_KEY_FILE) too"};
  }
  if (!c.tls.client_ca.empty() && c.tls.cert.empty()) {
    return ConfigError{"--tls-client-ca (TLS_CLIENT_CA_FILE) needs --tls-cert and --tls-key: mutual TLS is TLS first"};
  }
  if (auto p = pick(flags.tls_port, "--tls-port", "TLS_PORT", "tls_port")) {
    auto port = parse_port(p->text);
    if (!port) return invalid_value(p->name, p->text, kPortExpected);
    c.tls.port = *port;
  }
  if (c.tls.enabled() && c.tls.port == c.port && c.port != 0) {
    return ConfigError{fmt::format("--tls-port {} is the plain port too: give them different ports", c.port)};
  }

  // Upstreams: the flags' when any is given, else UPSTREAM_URIS, else the file's.
  {
    std::vector<std::string> urls;
    std::string name = "--upstream";
    if (!flags.upstream.empty()) {
      urls = flags.upstream;
    } else if (auto v = from_env("UPSTREAM_URIS")) {
      name = v->name;
      urls = comma_list(v->text);
    } else if (file != nullptr) {
      if (const auto it = file->settings.find("upstreams"); it != file->settings.end()) {
        name = it->second.where;
        for (const auto& value : it->second.values) {
          for (auto& u : comma_list(value)) urls.push_back(std::move(u));
        }
      }
    }
    if (urls.size() > kMaxUpstreams) {
      return ConfigError{fmt::format("{}: at most {} upstreams, not {}", name, kMaxUpstreams, urls.size())};
    }
    for (const auto& u : urls) {
      if (u.size() > kMaxUpstreamUrl)
        return invalid_value(name, u.substr(0, 60) + "...", "a URL of at most 2048 characters");
      const auto target = parse_http_url(u);
      const auto* error = std::get_if<ConfigError>(&target);
      const auto* t = std::get_if<HttpTarget>(&target);
      if (error != nullptr || t->scheme != ProbeScheme::Http) {
        return invalid_value(name, u,
                             error != nullptr ? "an http:// or https:// URL (" + error->message + ")"
                                              : std::string("an http:// or https:// URL (grpc:// upstreams are not "
                                                            "supported yet)"));
      }
    }
    c.upstreams.urls = std::move(urls);
  }
  if (auto e = duration(pick(flags.upstream_timeout, "--upstream-timeout", "UPSTREAM_TIMEOUT", "upstream_timeout"),
                        c.upstreams.timeout, Range{kMinUpstreamTimeout, kMaxUpstreamTimeout})) {
    return *e;
  }
  if (auto e =
          path(flags.upstream_cacert, "--upstream-cacert", "UPSTREAM_CACERT", "upstream_cacert", c.upstreams.cacert)) {
    return *e;
  }
  if (auto g = pick(flags.upstream_max_body, "--upstream-max-body", "UPSTREAM_MAX_BODY", "upstream_max_body")) {
    const auto n = parse_size(g->text);
    if (!n || *n == 0 || *n > kMaxMaxBody) {
      return invalid_value(g->name, g->text,
                           fmt::format("a size from 1 to {} (64KiB, 1MiB)", format_size(kMaxMaxBody)));
    }
    c.upstreams.max_body = *n;
  }

  if (auto d = pick(flags.data_dir, "--data-dir", "DATA_DIR", "data_dir")) {
    if (d->text.empty()) return invalid_value(d->name, "", "a directory");
    c.data_dir = d->text;
  }
  if (auto e = duration(pick(flags.flush_interval, "--flush-interval", nullptr, "flush_interval"), c.flush_interval,
                        Range{std::chrono::milliseconds(10), std::chrono::hours(1)})) {
    return *e;
  }
  return c;
}

std::optional<ConfigError> check_settings(const ConfigFile& file) {
  auto resolved = resolve_serve_config({}, nullptr, &file);
  if (auto* e = std::get_if<ConfigError>(&resolved)) return *e;
  return std::nullopt;
}

}  // namespace devops::core
