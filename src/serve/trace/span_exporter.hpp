#pragma once

// The batch span processor and exporter: the event loops hand finished
// spans to a bounded queue and never wait; one thread sends them in batches
// (OTLP/HTTP JSON) when a batch is full or the schedule's delay has passed,
// one export at a time. A full queue drops the span and counts it; a slow
// or dead collector costs a counter, nothing more.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "serve/trace/span.hpp"

namespace devops::serve::trace {

// What one POST of a batch came to.
struct PostResult {
  int status{0};                             // the collector's HTTP status; 0: no answer (refused, timed out, ...)
  std::string error;                         // when status is 0: why
  std::chrono::milliseconds retry_after{0};  // from Retry-After, when the collector sent one
};
// Sends `body` to the endpoint within `timeout` (the exporter's thread).
using PostFn = std::function<PostResult(const std::string& body, std::chrono::milliseconds timeout)>;

// OTEL_BSP_* and OTEL_EXPORTER_OTLP_TIMEOUT, with the specification's defaults.
struct BatchConfig {
  std::chrono::milliseconds schedule_delay{5000};
  std::chrono::milliseconds export_timeout{30000};   // one export, retries included
  std::chrono::milliseconds request_timeout{10000};  // one POST
  // Spans queued at most; the thread holds at most as many more that it
  // took out of the queue to send.
  std::size_t max_queue{2048};
  std::size_t max_batch{512};  // spans in one POST
};

// Counters for /metrics.
struct ExportStats {
  std::atomic<std::uint64_t> exported{0};  // spans the collector took
  std::atomic<std::uint64_t> dropped{0};   // spans that found the queue full
  std::atomic<std::uint64_t> failed{0};    // spans in batches the collector refused or never got
};

class SpanExporter {
 public:
  // `stats` must outlive the exporter's thread, which a shutdown may leave
  // behind in a POST that does not end (a static counter does).
  SpanExporter(BatchConfig config, Resource resource, std::string version, PostFn post, ExportStats& stats);
  ~SpanExporter();
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Queues a finished span, or drops and counts it when the queue is full.
  // Never blocks on the collector. From any thread.
  void push(Span span) noexcept;
  // Exports what is queued and stops, within `timeout` (the drain's); false
  // when spans were left unsent. A POST still under way then is left to
  // its own timeout on a detached thread: the exit does not wait for it.
  bool shutdown(std::chrono::milliseconds timeout);

 private:
  struct State;
  static void run(const std::shared_ptr<State>& st);
  // Sends one batch, retrying what the collector asks to be retried (429,
  // 502, 503, 504, no answer) until `deadline`.
  static void export_batch(State& st, std::span<const Span> batch, std::chrono::steady_clock::time_point deadline);

  std::shared_ptr<State> state_;  // shared with the thread
  std::thread thread_;
};

}  // namespace devops::serve::trace
