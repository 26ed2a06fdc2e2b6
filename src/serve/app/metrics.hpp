#pragma once

// Request metrics kept in fixed arrays of atomics (no locks on the request
// path, no label set a client can grow), and the Prometheus text exposition
// (format 0.0.4) of them, of the process and of the build.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/build_info.hpp"
#include "serve/net/connection_stats.hpp"

namespace devops::serve {

// The `method` label: the methods HTTP/1.1 defines, then "other".
inline constexpr std::array<std::string_view, 10> kMethodLabels{"GET",   "HEAD",    "POST",  "PUT",     "DELETE",
                                                                "PATCH", "OPTIONS", "TRACE", "CONNECT", "other"};
std::size_t method_index(std::string_view method);

// Upper bounds of the duration histogram, in seconds (then +Inf).
inline constexpr std::array<double, 11> kDurationBuckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class Metrics {
 public:
  // Route labels: the routes' paths, then "unknown".
  static constexpr std::size_t kMaxLabels = 16;

  // Zero-initialised and large: make it static (constinit) so that the
  // untouched counters cost no memory.
  constexpr Metrics() = default;

  // One finished request. `endpoint` indexes the labels given to render();
  // status outside 100..599 counts as 599.
  void observe(std::size_t method, std::size_t endpoint, int status, std::chrono::nanoseconds duration);
  void started() { in_progress_.fetch_add(1, std::memory_order_relaxed); }
  void finished() { in_progress_.fetch_sub(1, std::memory_order_relaxed); }

  std::uint64_t requests(std::size_t method, std::size_t endpoint, int status) const;
  std::int64_t in_progress() const { return in_progress_.load(std::memory_order_relaxed); }

  // The connection layer's own counters.
  ConnectionStats connections;                      // the engine's, counted there
  std::atomic<std::uint64_t> log_lines_dropped{0};  // stdout could not keep up

  // The config file's reloads, as Prometheus reports its own; rendered only
  // when serve runs with a config file.
  struct ConfigReloads {
    std::atomic<bool> enabled{false};
    std::atomic<std::uint64_t> success{0};
    std::atomic<std::uint64_t> failure{0};
    // Stored inverted: every member starts at zero, so a static Metrics is all
    // .bss and the binary carries none of its counters (one `true` here once
    // put the whole object, 480 KB of zeros, in .data).
    std::atomic<bool> last_failed{false};
    std::atomic<std::int64_t> last_success_ms{0};    // Unix time
    std::atomic<std::uint64_t> restart_required{0};  // restart-only keys changed, not applied
  };
  ConfigReloads config;
  TlsStats tls;  // the TLS port's handshakes and certificate

  // http_requests_total, http_request_duration_seconds, http_requests_in_progress,
  // devops_info_connections_open, devops_info_connections_rejected_total,
  // devops_info_connections_evicted_total,
  // devops_info_log_lines_dropped_total.
  void render(std::string& out, std::span<const std::string_view> endpoint_labels) const;

 private:
  static constexpr std::size_t kStatuses = 500;  // 100..599
  using Counter = std::atomic<std::uint64_t>;
  struct Histogram {
    std::array<Counter, kDurationBuckets.size() + 1> buckets{};  // non-cumulative; the last is +Inf
    Counter sum_ns{};
  };
  std::array<std::array<std::array<Counter, kStatuses>, kMaxLabels>, kMethodLabels.size()> requests_{};
  std::array<std::array<Histogram, kMaxLabels>, kMethodLabels.size()> durations_{};
  std::atomic<std::int64_t> in_progress_{0};
};

// The standard process_* metrics.
struct ProcessStats {
  std::optional<double> cpu_seconds;
  std::optional<std::uint64_t> resident_bytes;
  std::optional<std::uint64_t> virtual_bytes;
  std::optional<std::uint64_t> open_fds;
  std::optional<std::uint64_t> max_fds;
  double start_time_seconds{};
};

// This process, now.
ProcessStats read_process_stats(std::chrono::system_clock::time_point started);

void render_process(std::string& out, const ProcessStats& p);
// devops_info_config_last_reload_successful, ..._success_timestamp_seconds,
// devops_info_config_reloads_total{result}, devops_info_config_restart_required_total.
void render_config_reloads(std::string& out, const Metrics::ConfigReloads& c);
// devops_info_tls_certificate_not_after_seconds, devops_info_tls_reloads_total{result},
// devops_info_tls_handshakes_total{result}; nothing without TLS.
void render_tls(std::string& out, const TlsStats& t);
// devops_info_build_info{version,commit,compiler,build_type} 1
void render_build_info(std::string& out, const core::BuildInfo& b);

// A label value with \, " and newlines escaped.
std::string escape_label(std::string_view v);

}  // namespace devops::serve
