#include "serve/app/metrics.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace devops::serve {

namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

// Prometheus floats: "1.0" rather than "1", like the reference clients.
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::floor(v) == v && std::fabs(v) < 1e15) return fmt::format("{:.1f}", v);
  return fmt::format("{}", v);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::size_t method_index(std::string_view method) {
  for (std::size_t i = 0; i + 1 < kMethodLabels.size(); ++i) {
    if (kMethodLabels[i] == method) return i;
  }
  return kMethodLabels.size() - 1;
}

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metrics::observe(std::size_t method, std::size_t endpoint, int status, std::chrono::nanoseconds duration) {
  if (method >= kMethodLabels.size() || endpoint >= kMaxLabels) return;
  const std::size_t s = status >= 100 && status <= 599 ? static_cast<std::size_t>(status - 100) : kStatuses - 1;
  requests_[method][endpoint][s].fetch_add(1, kRelaxed);
  auto& h = durations_[method][endpoint];
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t b = 0;
  while (b < kDurationBuckets.size() && seconds > kDurationBuckets[b]) ++b;
  h.buckets[b].fetch_add(1, kRelaxed);
  h.sum_ns.fetch_add(static_cast<std::uint64_t>(duration.count() < 0 ? 0 : duration.count()), kRelaxed);
}

std::uint64_t Metrics::requests(std::size_t method, std::size_t endpoint, int status) const {
  if (method >= kMethodLabels.size() || endpoint >= kMaxLabels || status < 100 || status > 599) return 0;
  return requests_[method][endpoint][static_cast<std::size_t>(status - 100)].load(kRelaxed);
}

void Metrics::render(std::string& out, std::span<const std::string_view> endpoint_labels) const {
  const std::size_t endpoints = std::min(endpoint_labels.size(), kMaxLabels);
  auto it = std::back_inserter(out);

  header(out, "http_requests_total", "counter", "HTTP requests answered, by method, endpoint and status.");
  for (std::size_t m = 0; m < kMethodLabels.size(); ++m) {
    for (std::size_t e = 0; e < endpoints; ++e) {
      const auto label = escape_label(endpoint_labels[e]);
      for (std::size_t s = 0; s < kStatuses; ++s) {
        const auto n = requests_[m][e][s].load(kRelaxed);
        if (n == 0) continue;
        fmt::format_to(it, "http_requests_total{{method=\"{}\",endpoint=\"{}\",status=\"{}\"}} {}\n", kMethodLabels[m],
                       label, s + 100, n);
      }
    }
  }

  header(out, "http_request_duration_seconds", "histogram", "Time from routing a request to its logged response.");
  for (std::size_t m = 0; m < kMethodLabels.size(); ++m) {
    for (std::size_t e = 0; e < endpoints; ++e) {
      const auto& h = durations_[m][e];
      std::array<std::uint64_t, kDurationBuckets.size() + 1> counts{};
      std::uint64_t total = 0;
      for (std::size_t b = 0; b < counts.size(); ++b) {
        counts[b] = h.buckets[b].load(kRelaxed);
        total += counts[b];
      }
      if (total == 0) continue;
      const auto label = escape_label(endpoint_labels[e]);
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < counts.size(); ++b) {
        cumulative += counts[b];
        const std::string le = b < kDurationBuckets.size() ? number(kDurationBuckets[b]) : "+Inf";
        fmt::format_to(it, "http_request_duration_seconds_bucket{{method=\"{}\",endpoint=\"{}\",le=\"{}\"}} {}\n",
                       kMethodLabels[m], label, le, cumulative);
      }
      const double sum = static_cast<double>(h.sum_ns.load(kRelaxed)) / 1e9;
      fmt::format_to(it, "http_request_duration_seconds_sum{{method=\"{}\",endpoint=\"{}\"}} {}\n", kMethodLabels[m],
                     label, number(sum));
      fmt::format_to(it, "http_request_duration_seconds_count{{method=\"{}\",endpoint=\"{}\"}} {}\n", kMethodLabels[m],
                     label, total);
    }
  }

  header(out, "http_requests_in_progress", "gauge", "HTTP requests being answered now.");
  fmt::format_to(it, "http_requests_in_progress {}\n", in_progress());

  header(out, "devops_info_connections_open", "gauge", "Client connections open now.");
  fmt::format_to(it, "devops_info_connections_open {}\n", connections.open.load(kRelaxed));
  header(out, "devops_info_connections_rejected_total", "counter",
         "New connections closed at once: --max-connections were open and none could be evicted.");
  fmt::format_to(it, "devops_info_connections_rejected_total {}\n", connections.rejected.load(kRelaxed));
  header(out, "devops_info_connections_evicted_total", "counter",
         "Idle connections closed to admit a new one while --max-connections were open.");
  fmt::format_to(it, "devops_info_connections_evicted_total {}\n", connections.evicted.load(kRelaxed));
  header(out, "devops_info_log_lines_dropped_total", "counter", "Log lines dropped because stdout could not keep up.");
  fmt::format_to(it, "devops_info_log_lines_dropped_total {}\n", log_lines_dropped.load(kRelaxed));
}

ProcessStats read_process_stats(std::chrono::system_clock::time_point started) {
  ProcessStats p;
  p.start_time_seconds = std::chrono::duration<double>(started.time_since_epoch()).count();
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0) {
    auto secs = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    p.cpu_seconds = secs(ru.ru_utime) + secs(ru.ru_stime);
  }
  if (std::FILE* f = std::fopen("/proc/self/statm", "re")) {
    unsigned long long size = 0;
    unsigned long long resident = 0;
    if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) {
      const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
      p.virtual_bytes = size * page;
      p.resident_bytes = resident * page;
    }
    std::fclose(f);
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    p.open_fds = n > 0 ? n - 1 : 0;  // less the directory's own descriptor
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) p.max_fds = rl.rlim_cur;
  return p;
}

void render_process(std::string& out, const ProcessStats& p) {
  auto it = std::back_inserter(out);
  auto gauge = [&](std::string_view name, std::string_view type, std::string_view help, const auto& value) {
    if (!value) return;
    header(out, name, type, help);
    fmt::format_to(it, "{} {}\n", name, number(static_cast<double>(*value)));
  };
  gauge("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", p.cpu_seconds);
  gauge("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.resident_bytes);
  gauge("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.virtual_bytes);
  gauge("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
        std::optional<double>(p.start_time_seconds));
  gauge("process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
  gauge("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds);
}

void render_config_reloads(std::string& out, const Metrics::ConfigReloads& c) {
  if (!c.enabled.load(kRelaxed)) return;
  header(out, "devops_info_config_last_reload_successful", "gauge",
         "Whether the last reload of the config file succeeded (1) or failed (0).");
  fmt::format_to(std::back_inserter(out), "devops_info_config_last_reload_successful {}\n",
                 c.last_failed.load(kRelaxed) ? 0 : 1);
  header(out, "devops_info_config_last_reload_success_timestamp_seconds", "gauge",
         "When the config file was last loaded successfully, in Unix time.");
  fmt::format_to(std::back_inserter(out), "devops_info_config_last_reload_success_timestamp_seconds {}\n",
                 number(static_cast<double>(c.last_success_ms.load(kRelaxed)) / 1000.0));
  header(out, "devops_info_config_reloads_total", "counter", "Reloads of the config file after the start, by result.");
  fmt::format_to(std::back_inserter(out),
                 "devops_info_config_reloads_total{{result=\"success\"}} {}\n"
                 "devops_info_config_reloads_total{{result=\"failure\"}} {}\n",
                 c.success.load(kRelaxed), c.failure.load(kRelaxed));
  header(out, "devops_info_config_restart_required_total", "counter",
         "Changes to restart-only settings (host, port, ...) seen in the config file and not applied.");
  fmt::format_to(std::back_inserter(out), "devops_info_config_restart_required_total {}\n",
                 c.restart_required.load(kRelaxed));
}

void render_tls(std::string& out, const TlsStats& t) {
  if (!t.enabled.load(kRelaxed)) return;
  header(out, "devops_info_tls_certificate_not_after_seconds", "gauge",
         "When the certificate the TLS port serves expires (its notAfter), in Unix time.");
  fmt::format_to(std::back_inserter(out), "devops_info_tls_certificate_not_after_seconds {}\n",
                 t.not_after.load(kRelaxed));
  header(out, "devops_info_tls_reloads_total", "counter",
         "Reloads of the TLS certificate and key after the start, by result (a failure keeps the last good pair).");
  fmt::format_to(std::back_inserter(out),
                 "devops_info_tls_reloads_total{{result=\"success\"}} {}\n"
                 "devops_info_tls_reloads_total{{result=\"failure\"}} {}\n",
                 t.reloads_success.load(kRelaxed), t.reloads_failure.load(kRelaxed));
  header(out, "devops_info_tls_handshakes_total", "counter",
         "Connections to the TLS port by how their handshake ended: success, failure (garbage, an old "
         "protocol, no client certificate, ...), plain_http (answered 400 in clear text) or evicted (unfinished, "
         "closed to make room for a new one).");
  fmt::format_to(std::back_inserter(out),
                 "devops_info_tls_handshakes_total{{result=\"success\"}} {}\n"
                 "devops_info_tls_handshakes_total{{result=\"failure\"}} {}\n"
                 "devops_info_tls_handshakes_total{{result=\"plain_http\"}} {}\n"
                 "devops_info_tls_handshakes_total{{result=\"evicted\"}} {}\n",
                 t.handshakes.load(kRelaxed), t.failed.load(kRelaxed), t.plain_http.load(kRelaxed),
                 t.evicted.load(kRelaxed));
}

void render_build_info(std::string& out, const core::BuildInfo& b) {
  header(out, "devops_info_build_info", "gauge", "Build of this devops-info binary; the value is always 1.");
  fmt::format_to(std::back_inserter(out),
                 "devops_info_build_info{{version=\"{}\",commit=\"{}\",compiler=\"{}\",build_type=\"{}\",cpp_standard="
                 "\"{}\"}} 1\n",
                 escape_label(b.version), escape_label(b.commit), escape_label(b.compiler), escape_label(b.build_type),
                 escape_label(b.cpp_standard));
}

}  // namespace devops::serve
