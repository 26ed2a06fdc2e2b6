#pragma once

// The values every setting is made of (ports, addresses, booleans,
// durations), how a rejected one is described, and where the environment
// comes from. Pure functions: the environment comes in through a getter, so
// tests need no process state.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace devops::core {

// Reads one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Why a value was rejected; the message names the flag or the variable.
struct ConfigError {
  std::string message;
};
// "PORT: 'abc' is not a port number (0 to 65535)"
ConfigError invalid_value(std::string_view name, std::string_view value, std::string_view expected);

// ASCII letters compared without case.
bool iequals(std::string_view a, std::string_view b);

// 0 to 65535, decimal digits only.
std::optional<int> parse_port(std::string_view text);
// A numeric IPv4 or IPv6 address (brackets allowed around IPv6), returned
// without brackets. Names are refused: an address to listen on names an
// interface of this host, which a name could not say for sure.
std::optional<std::string> parse_host(std::string_view text);
// true/false, 1/0, yes/no, on/off (any case); empty is false.
std::optional<bool> parse_bool(std::string_view text);
// "500ms", "30s", "1.5s", "2m", "1h"; a bare number is seconds. Not negative.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// parse_duration for the option or variable `name`, with the error message.
std::variant<std::chrono::milliseconds, ConfigError> parse_duration_option(std::string_view name,
                                                                           std::string_view text);
// "1.5s", "250ms", "2m": the shortest exact form for messages.
std::string format_duration(std::chrono::milliseconds d);
// A size in bytes: "65536", "512KiB", "1MiB" (also Kubernetes' "Ki", "Mi";
// binary units only: "1MB" is refused rather than guessed). Whole numbers.
std::optional<std::uint64_t> parse_size(std::string_view text);
// "1MiB", "512KiB", "100B": the shortest exact form for messages.
std::string format_size(std::uint64_t bytes);

}  // namespace devops::core
