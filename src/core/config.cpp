#include "core/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <netinet/in.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "core/config_file.hpp"
#include "core/endpoints.hpp"

namespace devops::core {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// "PORT: 'abc' is not a port number (0 to 65535)"
ConfigError invalid(std::string_view name, std::string_view value, std::string_view expected) {
  return {fmt::format("{}: '{}' is not {}", name, value, expected)};
}

constexpr std::string_view kPortExpected = "a port number (0 to 65535)";
constexpr std::string_view kHostExpected = "a numeric IPv4 or IPv6 address (e.g. 0.0.0.0, 127.0.0.1, ::)";
constexpr std::string_view kDurationExpected = "a duration (e.g. 10s, 500ms, 2m)";

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
      return invalid(delays.name, text,
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
      return invalid(errors.name, text,
                     fmt::format("ROUTE=FRACTION, a fraction from 0 to 1 (ROUTE: {})", route_list()));
    }
    apply(rule->first, [&](RouteFault& f) { f.error_fraction = fraction; });
  }
  std::erase_if(faults, [](const RouteFault& f) { return f.delay_max.count() == 0 && f.error_fraction == 0; });
  return faults;
}

}  // namespace

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Info: return "INFO";
    case LogLevel::Warning: return "WARNING";
    case LogLevel::Error: return "ERROR";
  }
  return "INFO";
}

std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int port = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || p != text.data() + text.size() || port < 0 || port > 65535) return std::nullopt;
  return port;
}

std::optional<std::string> parse_host(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  if (::inet_pton(AF_INET, s.c_str(), buf.data()) == 1) return s;
  if (::inet_pton(AF_INET6, s.c_str(), buf.data()) == 1) return s;
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  for (const char* t : {"true", "1", "yes", "on"}) {
    if (iequals(text, t)) return true;
  }
  for (const char* f : {"false", "0", "no", "off", ""}) {
    if (iequals(text, f)) return false;
  }
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto unit_at = text.find_first_not_of("0123456789.");
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = unit_at == std::string_view::npos ? std::string_view() : text.substr(unit_at);
  if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
  double value = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || p != number.data() + number.size()) return std::nullopt;
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return std::nullopt;
  }
  const double ms = std::round(value * scale);
  if (!std::isfinite(ms) || ms < 0 || ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

std::variant<std::chrono::milliseconds, ConfigError> parse_duration_option(std::string_view name,
                                                                           std::string_view text) {
  if (auto d = parse_duration(text)) return *d;
  return invalid(name, text, kDurationExpected);
}

std::string format_duration(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string frac = fmt::format("{:03}", ms % 1000);
  while (frac.back() == '0') frac.pop_back();
  return fmt::format("{}.{}s", ms / 1000, frac);
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (const auto l : {LogLevel::Debug, LogLevel::Info, LogLevel::Warning, LogLevel::Error}) {
    if (iequals(text, to_string(l))) return l;
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (iequals(text, "json")) return LogFormat::JsonLines;
  if (iequals(text, "text")) return LogFormat::Text;
  return std::nullopt;
}

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
    if (!host) return invalid(h->name, h->text, kHostExpected);
    c.host = *host;
  }
  if (auto p = pick(flags.port, "--port", "PORT", "port")) {
    auto port = parse_port(p->text);
    if (!port) return invalid(p->name, p->text, kPortExpected);
    c.port = *port;
  }

  if (flags.log_level) {
    c.log_level = *flags.log_level;
  } else if (auto d = from_env("DEBUG")) {
    auto on = parse_bool(d->text);
    if (!on) return invalid("DEBUG", d->text, "a boolean (true or false)");
    c.log_level = *on ? LogLevel::Debug : LogLevel::Info;
  } else if (auto f = from_file("log_level")) {
    auto level = parse_log_level(f->text);
    if (!level) return invalid(f->name, f->text, "a log level (debug, info, warning or error)");
    c.log_level = *level;
  }
  if (flags.log_format) {
    c.log_format = *flags.log_format;
  } else if (auto f = from_file("log_format")) {
    auto format = parse_log_format(f->text);
    if (!format) return invalid(f->name, f->text, "a log format (json or text)");
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
    if (!n) return invalid(t->name, t->text, fmt::format("a number of event loops (1 to {})", kMaxThreads));
    c.threads = *n;
  }
  if (auto m = pick(flags.max_connections, "--max-connections", nullptr, "max_connections")) {
    const auto n = count(m->text, kMaxMaxConnections);
    if (!n) return invalid(m->name, m->text, fmt::format("a number of connections (1 to {})", kMaxMaxConnections));
    c.max_connections = *n;
  }
  auto duration = [&](const std::optional<Given>& g, std::chrono::milliseconds& out) -> std::optional<ConfigError> {
    if (!g) return std::nullopt;
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

  // The probe switches: a flag forces the state; else the file's true or false.
  auto probe = [&](bool flag_off, std::string_view key, bool& off) -> std::optional<ConfigError> {
    off = flag_off;
    if (flag_off) return std::nullopt;
    if (auto f = from_file(key)) {
      const auto on = parse_bool(f->text);
      if (!on) return invalid(f->name, f->text, "a boolean (true or false)");
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
  c.switches = {unready, unhealthy, std::get<std::vector<RouteFault>>(std::move(faults)), flags.delay_path};

  if (auto d = pick(flags.data_dir, "--data-dir", "DATA_DIR", "data_dir")) {
    if (d->text.empty()) return invalid(d->name, "", "a directory");
    c.data_dir = d->text;
  }
  if (auto f = pick(flags.flush_interval, "--flush-interval", nullptr, "flush_interval")) {
    auto d = parse_duration(f->text);
    if (!d || *d < std::chrono::milliseconds(10) || *d > std::chrono::hours(1)) {
      return invalid(f->name, f->text, "a duration from 10ms to 1h");
    }
    c.flush_interval = *d;
  }
  return c;
}

std::variant<HttpTarget, ConfigError> parse_http_url(std::string_view url) {
  auto fail = [&](std::string_view why) { return ConfigError{fmt::format("--url: '{}': {}", url, why)}; };
  // RFC 3986 has no place for spaces, controls, non-ASCII bytes or these.
  for (std::size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("\"<>\\^`{|}").find(static_cast<char>(c)) != std::string_view::npos) {
      return fail(fmt::format("invalid character at position {} (byte 0x{:02x}); percent-encode it", i + 1, c));
    }
  }
  std::string_view rest = url;
  if (rest.size() >= 7 && iequals(rest.substr(0, 7), "http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return fail("only http:// URLs are supported");
  }
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return fail("user names in the URL are not supported");
  if (authority.empty()) return fail("no host");

  HttpTarget t;
  std::string_view port_text;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed '[' in the host");
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return fail("an IPv6 address needs brackets, e.g. http://[::1]:5000/health");
    }
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) return fail("no host");
  if (!port_text.empty() || authority.back() == ':') {
    auto port = parse_port(port_text);
    if (!port || *port == 0) return fail("the port is not a number from 1 to 65535");
    t.port = *port;
  }
  // Built by append rather than from a literal: GCC 12 warns (-Wrestrict, a
  // false positive, GCC bug 105329) on assigning a short literal here.
  t.path.clear();
  if (path.empty() || path.front() == '?') t.path.push_back('/');
  t.path.append(path);
  return t;
}

std::variant<std::string, ConfigError> default_probe_url(const EnvLookup& env) {
  int port = kDefaultPort;
  if (auto v = env ? env("PORT") : std::nullopt; v && !v->empty()) {
    auto p = parse_port(*v);
    if (!p || *p == 0) return invalid("PORT", *v, "a port number (1 to 65535)");
    port = *p;
  }
  return fmt::format("http://127.0.0.1:{}/health", port);
}

}  // namespace devops::core
