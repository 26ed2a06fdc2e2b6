#pragma once

// The upstream calls' metrics: devops_info_upstream_requests_total{upstream,
// status} and devops_info_upstream_request_duration_seconds{upstream}, and
// the trace exporter's span counters. The `upstream` label is a configured
// URL (the configuration bounds them; past kMaxUpstreams, "other"); `status`
// is the upstream's HTTP status or the kind of failure.

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "serve/app/metrics.hpp"
#include "serve/trace/span_exporter.hpp"

namespace devops::serve {

class UpstreamMetrics {
 public:
  static constexpr std::size_t kMaxUpstreams = 64;

  // One call ended: `status` is "200", "503", or a failure ("timeout", ...).
  void observe(std::string_view upstream, std::string_view status, std::chrono::nanoseconds took);
  // Nothing before the first call.
  void render(std::string& out) const;

 private:
  struct Entry {
    std::map<std::string, std::uint64_t, std::less<>> statuses;
    std::array<std::uint64_t, kDurationBuckets.size() + 1> buckets{};  // non-cumulative; the last is +Inf
    std::uint64_t sum_ns{0};
    std::uint64_t count{0};
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// devops_info_trace_spans_total{result="exported|dropped|failed"}; nothing
// when tracing does not export.
void render_trace_export(std::string& out, const trace::ExportStats* stats);

}  // namespace devops::serve
