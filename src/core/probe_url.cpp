#include "core/probe_url.hpp"

#include <fmt/format.h>

#include "core/serve_config.hpp"

namespace devops::core {

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
  HttpTarget t;
  auto scheme = [&](std::string_view s) {
    if (rest.size() < s.size() || !iequals(rest.substr(0, s.size()), s)) return false;
    rest.remove_prefix(s.size());
    return true;
  };
  if (scheme("http://")) {
  } else if (scheme("https://")) {
    t.tls = true;
    t.port = 443;
  } else if (scheme("grpc://")) {
    t.scheme = ProbeScheme::Grpc;
    t.port = kDefaultPort;
  } else if (scheme("grpcs://")) {
    t.scheme = ProbeScheme::Grpc;
    t.tls = true;
    t.port = kDefaultTlsPort;
  } else if (rest.find("://") != std::string_view::npos) {
    return fail("only http://, https://, grpc:// and grpcs:// URLs are supported");
  }
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  if (auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (authority.find('@') != std::string_view::npos) return fail("user names in the URL are not supported");
  if (authority.empty()) return fail("no host");

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
  if (t.scheme == ProbeScheme::Grpc &&
      (t.path.find('?') != std::string::npos || t.path.find('/', 1) != std::string::npos)) {
    return fail("a grpc:// URL names at most a service: grpc://HOST:PORT/liveness");
  }
  return t;
}

std::variant<std::string, ConfigError> default_probe_url(const EnvLookup& env) {
  int port = kDefaultPort;
  if (auto v = env ? env("PORT") : std::nullopt; v && !v->empty()) {
    auto p = parse_port(*v);
    if (!p || *p == 0) return invalid_value("PORT", *v, "a port number (1 to 65535)");
    port = *p;
  }
  return fmt::format("http://127.0.0.1:{}/health", port);
}

}  // namespace devops::core
