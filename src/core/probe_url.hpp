#pragma once

// Where `health` probes: the URL of --url, and the default one from PORT.

#include <string>
#include <string_view>
#include <variant>

#include "core/config_values.hpp"

namespace devops::core {

// How the probe asks: an HTTP GET, or gRPC health's Check over HTTP/2.
enum class ProbeScheme { Http, Grpc };

// Where the health probe connects: http://HOST[:PORT][/PATH], or
// grpc://HOST[:PORT][/SERVICE]; https:// and grpcs:// the same over TLS.
struct HttpTarget {
  ProbeScheme scheme{ProbeScheme::Http};
  bool tls{false};        // https:// or grpcs://
  std::string host;       // numeric address or name, without brackets
  int port{80};           // 443 for https://; grpc:// has no port of its own: serve's, 5000 (grpcs://: 5443)
  std::string path{"/"};  // with the query, if any; for grpc://, "/" and the service name
  // grpc://: the service whose health Check asks ("" for the whole server).
  std::string_view grpc_service() const { return std::string_view(path).substr(1); }
};
// Parses an http://, https://, grpc:// or grpcs:// URL (the scheme may be
// left out: http).
// Errors say why.
std::variant<HttpTarget, ConfigError> parse_http_url(std::string_view url);

// http://127.0.0.1:${PORT:-5000}/health: a numeric address, so that a scratch
// image without /etc/hosts can probe itself.
std::variant<std::string, ConfigError> default_probe_url(const EnvLookup& env);

}  // namespace devops::core
