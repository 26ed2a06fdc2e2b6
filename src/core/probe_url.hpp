#pragma once

// Where `health` probes: the URL of --url, and the default one from PORT.

#include <string>
#include <string_view>
#include <variant>

#include "core/config_values.hpp"

namespace devops::core {

// Where the health probe connects: http://HOST[:PORT][/PATH].
struct HttpTarget {
  std::string host;  // numeric address or name, without brackets
  int port{80};
  std::string path{"/"};  // with the query, if any
};
// Parses an http:// URL (the scheme may be left out). Errors say why.
std::variant<HttpTarget, ConfigError> parse_http_url(std::string_view url);

// http://127.0.0.1:${PORT:-5000}/health: a numeric address, so that a scratch
// image without /etc/hosts can probe itself.
std::variant<std::string, ConfigError> default_probe_url(const EnvLookup& env);

}  // namespace devops::core
