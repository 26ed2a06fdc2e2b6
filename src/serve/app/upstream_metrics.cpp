#include "serve/app/upstream_metrics.hpp"

#include <iterator>

#include <fmt/format.h>

namespace devops::serve {

void UpstreamMetrics::observe(std::string_view upstream, std::string_view status, std::chrono::nanoseconds took) {
  const std::lock_guard lock(mu_);
  auto it = entries_.find(upstream);
  if (it == entries_.end()) {
    const bool room = entries_.size() < kMaxUpstreams;
    it = entries_.try_emplace(room ? std::string(upstream) : std::string("other")).first;
  }
  auto& e = it->second;
  if (auto s = e.statuses.find(status); s != e.statuses.end()) {
    ++s->second;
  } else {
    e.statuses.emplace(std::string(status), 1);
  }
  const double seconds = std::chrono::duration<double>(took).count();
  std::size_t b = 0;
  while (b < kDurationBuckets.size() && seconds > kDurationBuckets[b]) ++b;
  ++e.buckets[b];
  e.sum_ns += static_cast<std::uint64_t>(took.count());
  ++e.count;
}

void UpstreamMetrics::render(std::string& out) const {
  const std::lock_guard lock(mu_);
  if (entries_.empty()) return;
  auto it = std::back_inserter(out);
  out += "# HELP devops_info_upstream_requests_total Calls to upstreams, by the upstream's status or the failure.\n";
  out += "# TYPE devops_info_upstream_requests_total counter\n";
  for (const auto& [name, e] : entries_) {
    const auto label = escape_label(name);
    for (const auto& [status, n] : e.statuses) {
      fmt::format_to(it, "devops_info_upstream_requests_total{{upstream=\"{}\",status=\"{}\"}} {}\n", label, status, n);
    }
  }
  out += "# HELP devops_info_upstream_request_duration_seconds Time from a call's start to its end.\n";
  out += "# TYPE devops_info_upstream_request_duration_seconds histogram\n";
  for (const auto& [name, e] : entries_) {
    const auto label = escape_label(name);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b < kDurationBuckets.size(); ++b) {
      cumulative += e.buckets[b];
      fmt::format_to(it, "devops_info_upstream_request_duration_seconds_bucket{{upstream=\"{}\",le=\"{}\"}} {}\n",
                     label, kDurationBuckets[b], cumulative);
    }
    fmt::format_to(it, "devops_info_upstream_request_duration_seconds_bucket{{upstream=\"{}\",le=\"+Inf\"}} {}\n",
                   label, e.count);
    fmt::format_to(it, "devops_info_upstream_request_duration_seconds_sum{{upstream=\"{}\"}} {}\n", label,
                   static_cast<double>(e.sum_ns) / 1e9);
    fmt::format_to(it, "devops_info_upstream_request_duration_seconds_count{{upstream=\"{}\"}} {}\n", label, e.count);
  }
}

void render_trace_export(std::string& out, const trace::ExportStats* stats) {
  if (stats == nullptr) return;
  auto it = std::back_inserter(out);
  out +=
      "# HELP devops_info_trace_spans_total Finished spans: exported, dropped (the queue was full) or failed (the "
      "collector refused them or could not be reached).\n";
  out += "# TYPE devops_info_trace_spans_total counter\n";
  fmt::format_to(it, "devops_info_trace_spans_total{{result=\"exported\"}} {}\n", stats->exported.load());
  fmt::format_to(it, "devops_info_trace_spans_total{{result=\"dropped\"}} {}\n", stats->dropped.load());
  fmt::format_to(it, "devops_info_trace_spans_total{{result=\"failed\"}} {}\n", stats->failed.load());
}

}  // namespace devops::serve
