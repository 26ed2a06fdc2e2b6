#pragma once

// The configuration rules of `serve` and of the health probe: which values are
// valid, and which source wins (flag, then environment, then default). Pure
// functions: the environment comes in through a getter, so tests need no
// process state.

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace devops::core {

enum class LogLevel { Debug, Info, Warning, Error };
enum class LogFormat { JsonLines, Text };

// "DEBUG", "INFO", "WARNING", "ERROR".
const char* to_string(LogLevel level);

inline constexpr const char* kDefaultHost = "0.0.0.0";
inline constexpr int kDefaultPort = 5000;
inline constexpr std::size_t kMaxThreads = 64;  // event loops
inline constexpr std::size_t kDefaultMaxConnections = 10'000;
inline constexpr std::size_t kMaxMaxConnections = 1'000'000;
inline constexpr std::chrono::milliseconds kDefaultShutdownTimeout{10'000};

// Faults injected into one route (--fault-delay, --fault-error).
struct RouteFault {
  std::string route;  // a path of core::endpoints()
  std::chrono::milliseconds delay_min{0};
  std::chrono::milliseconds delay_max{0};  // == delay_min: a fixed delay
  double error_fraction{0};                // 0 to 1: the share of requests answered 500
  bool operator==(const RouteFault&) const = default;
};

// The probe and fault switches of `serve`, all off by default.
struct Switches {
  bool unready{false};    // /ready answers 503 from the start
  bool unhealthy{false};  // /health answers 503 from the start
  std::vector<RouteFault> faults;
  // Hidden, for the lifecycle tests: answers to this path are held back
  // kTestDelay (on a timer) before they are sent.
  std::string delay_path;
  bool operator==(const Switches&) const = default;
};
inline constexpr std::chrono::milliseconds kTestDelay{1000};
inline constexpr std::chrono::milliseconds kMaxFaultDelay{600'000};
inline constexpr std::chrono::milliseconds kDefaultFlushInterval{1000};

// Everything `serve` needs to start.
struct ServeConfig {
  std::string host{kDefaultHost};  // a numeric IPv4 or IPv6 address
  int port{kDefaultPort};          // 0: any free port
  std::size_t threads{0};          // event loops; 0: one per usable CPU
  std::size_t max_connections{kDefaultMaxConnections};
  LogFormat log_format{LogFormat::JsonLines};
  LogLevel log_level{LogLevel::Info};
  std::chrono::milliseconds shutdown_timeout{kDefaultShutdownTimeout};
  std::chrono::milliseconds shutdown_delay{0};  // /ready 503 but still serving, before the drain
  Switches switches;
  std::string data_dir;                                             // the visit counter's directory; empty: no counter
  std::chrono::milliseconds flush_interval{kDefaultFlushInterval};  // how often the count is written
  bool operator==(const ServeConfig&) const = default;
};

// The flags as given on the command line; unset when absent.
struct ServeFlags {
  std::optional<std::string> host;
  std::optional<std::string> port;
  std::optional<std::string> threads;  // as typed: "-1" must not wrap around
  std::optional<std::string> max_connections;
  std::optional<LogFormat> log_format;
  std::optional<LogLevel> log_level;
  std::optional<std::string> shutdown_timeout;
  std::optional<std::string> shutdown_delay;
  bool unready{false};
  bool unhealthy{false};
  std::vector<std::string> fault_delay;  // ROUTE=DURATION or ROUTE=MIN-MAX
  std::vector<std::string> fault_error;  // ROUTE=FRACTION
  std::string delay_path;                // hidden
  std::optional<std::string> data_dir;
  std::optional<std::string> flush_interval;
};

struct ConfigFile;

// Reads one environment variable; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Why a value was rejected; the message names the flag or the variable.
struct ConfigError {
  std::string message;
};

// Flag beats environment (HOST, PORT, DEBUG, DATA_DIR) beats the config
// file (when given) beats default. Errors name the flag, the variable or the
// file's line, column and key.
std::variant<ServeConfig, ConfigError> resolve_serve_config(const ServeFlags& flags, const EnvLookup& env,
                                                            const ConfigFile* file = nullptr);

// debug, info, warning, error (any case).
std::optional<LogLevel> parse_log_level(std::string_view text);
// json, text (any case).
std::optional<LogFormat> parse_log_format(std::string_view text);

// 0 to 65535, decimal digits only.
std::optional<int> parse_port(std::string_view text);
// A numeric IPv4 or IPv6 address (brackets allowed around IPv6), returned
// without brackets. Names are refused: a static binary cannot resolve them.
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
