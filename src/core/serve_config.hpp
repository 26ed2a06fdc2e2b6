#pragma once

// The configuration rules of `serve`: which values are valid, and which
// source wins (flag, then environment, then the config file, then default).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/config_values.hpp"
#include "core/log_level.hpp"

namespace devops::core {

inline constexpr const char* kDefaultHost = "0.0.0.0";
inline constexpr int kDefaultPort = 5000;
inline constexpr int kDefaultTlsPort = 5443;

// HTTPS beside the plain port: the files (PEM) whose contents are reloaded
// live, and the port; all restart-only. No cert: no TLS port.
struct TlsSettings {
  std::string cert;
  std::string key;
  std::string client_ca;  // mutual TLS: client certificates must chain to these; empty: none asked
  int port{kDefaultTlsPort};
  bool enabled() const { return !cert.empty(); }
  bool operator==(const TlsSettings&) const = default;
};
// The upstreams GET /upstreams calls (--upstream, UPSTREAM_URIS, upstreams),
// each http:// or https://HOST[:PORT][/PATH]; live.
struct UpstreamSettings {
  std::vector<std::string> urls;
  std::string cacert;  // https:// upstreams are verified against these PEM CAs; empty: the system's
  std::chrono::milliseconds timeout{2'000};            // each call, from its start
  std::uint64_t max_body{std::uint64_t{1024} * 1024};  // an answer larger is an error
  bool operator==(const UpstreamSettings&) const = default;
};
inline constexpr std::size_t kMaxUpstreams = 16;
inline constexpr std::size_t kMaxUpstreamUrl = 2048;
inline constexpr std::chrono::milliseconds kMinUpstreamTimeout{10};
inline constexpr std::chrono::milliseconds kMaxUpstreamTimeout{60'000};
inline constexpr std::size_t kMaxThreads = 64;  // event loops
inline constexpr std::size_t kDefaultMaxConnections = 10'000;
inline constexpr std::size_t kMaxMaxConnections = 1'000'000;
inline constexpr std::chrono::milliseconds kDefaultShutdownTimeout{10'000};
// A connection's deadlines (--request-timeout, --idle-timeout, --write-timeout).
inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{10'000};
inline constexpr std::chrono::milliseconds kDefaultIdleTimeout{5'000};
inline constexpr std::chrono::milliseconds kDefaultWriteTimeout{5'000};
inline constexpr std::chrono::milliseconds kMinConnTimeout{100};
inline constexpr std::chrono::milliseconds kMaxConnTimeout{3'600'000};

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
  // The routes asked for on demand (/status/{code}, /delay/{duration}):
  // on, and how long /delay may be asked to wait.
  bool introspection{true};
  std::chrono::milliseconds max_delay{std::chrono::seconds(10)};
  // The largest body POST /echo takes (larger: 413).
  std::uint64_t max_body{std::uint64_t{1024} * 1024};
  // GET /env shows the variables whose names match one of these shell globs.
  std::vector<std::string> env_allow{"POD_*", "NODE_*", "KUBERNETES_*", "HOSTNAME"};
  // Peers whose X-Forwarded-For and Forwarded are believed (CIDR ranges, as given); none by default.
  std::vector<std::string> trusted_proxies;
  bool operator==(const Switches&) const = default;
};
inline constexpr std::chrono::milliseconds kTestDelay{1000};
// --env-allow: at most this many patterns, each at most this long.
inline constexpr std::size_t kMaxEnvPatterns = 64;
inline constexpr std::size_t kMaxEnvPatternLength = 256;
// --trusted-proxies: at most this many ranges.
inline constexpr std::size_t kMaxTrustedProxies = 64;
inline constexpr std::chrono::milliseconds kMaxFaultDelay{600'000};
// --max-body: at most this much. Kept bodies of all requests in flight
// together have a budget of their own (HttpLimits::max_kept_bodies).
inline constexpr std::uint64_t kMaxMaxBody = std::uint64_t{16} * 1024 * 1024;
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
  std::chrono::milliseconds shutdown_delay{0};                        // /ready 503 but still serving, before the drain
  std::chrono::milliseconds request_timeout{kDefaultRequestTimeout};  // a request's head and body, from its first byte
  std::chrono::milliseconds idle_timeout{kDefaultIdleTimeout};        // a kept-alive connection between requests
  std::chrono::milliseconds write_timeout{kDefaultWriteTimeout};      // an answer the client does not read
  Switches switches;
  TlsSettings tls;
  UpstreamSettings upstreams;
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
  std::optional<std::string> request_timeout;
  std::optional<std::string> idle_timeout;
  std::optional<std::string> write_timeout;
  bool unready{false};
  bool unhealthy{false};
  std::vector<std::string> fault_delay;      // ROUTE=DURATION or ROUTE=MIN-MAX
  std::vector<std::string> fault_error;      // ROUTE=FRACTION
  std::optional<std::string> introspection;  // on or off
  std::optional<std::string> max_delay;
  std::optional<std::string> max_body;
  std::optional<std::string> env_allow;        // comma-separated shell globs
  std::optional<std::string> trusted_proxies;  // comma-separated CIDR ranges
  std::string delay_path;                      // hidden
  std::optional<std::string> data_dir;
  std::optional<std::string> flush_interval;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<std::string> tls_port;
  std::optional<std::string> tls_client_ca;
  std::vector<std::string> upstream;  // --upstream, repeated
  std::optional<std::string> upstream_timeout;
  std::optional<std::string> upstream_max_body;
  std::optional<std::string> upstream_cacert;
};

struct ConfigFile;

// Flag beats environment (HOST, PORT, DEBUG, DATA_DIR) beats the config
// file (when given) beats default. Errors name the flag, the variable or the
// file's line, column and key.
std::variant<ServeConfig, ConfigError> resolve_serve_config(const ServeFlags& flags, const EnvLookup& env,
                                                            const ConfigFile* file = nullptr);

// The config file's settings checked on their own, as if no flag or
// variable were set: a bad value is an error even where a flag would win
// over it. (Here, not in config_file.cpp: the file's reader knows nothing of
// serve's rules.)
std::optional<ConfigError> check_settings(const ConfigFile& file);

}  // namespace devops::core
