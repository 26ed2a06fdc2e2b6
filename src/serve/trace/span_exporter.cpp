#include "serve/trace/span_exporter.hpp"

#include <algorithm>
#include <random>

#include "serve/net/worker_thread.hpp"

namespace devops::serve::trace {

namespace {

using Clock = std::chrono::steady_clock;

bool retryable(const PostResult& r) {
  return r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
}

}  // namespace

struct SpanExporter::State {
  State(BatchConfig c, Resource r, std::string v, PostFn p, ExportStats& s)
      : config(c), resource(std::move(r)), version(std::move(v)), post(std::move(p)), stats(s) {}
  BatchConfig config;
  Resource resource;
  std::string version;
  PostFn post;
  ExportStats& stats;
  std::mutex mu;
  std::condition_variable cv;       // the thread waits on it for spans and the stop
  std::condition_variable done_cv;  // shutdown() waits on it for the thread's end
  std::vector<Span> queue;
  bool stop{false};
  bool done{false};
  Clock::time_point give_up_at{Clock::time_point::max()};
};

SpanExporter::SpanExporter(BatchConfig config, Resource resource, std::string version, PostFn post,
                           ExportStats& stats) {
  config.max_batch = std::clamp<std::size_t>(config.max_batch, 1, std::max<std::size_t>(config.max_queue, 1));
  state_ = std::make_shared<State>(config, std::move(resource), std::move(version), std::move(post), stats);
  state_->queue.reserve(std::min<std::size_t>(config.max_queue, 4096));
  thread_ = worker_thread([st = state_] { run(st); });
}

SpanExporter::~SpanExporter() {
  shutdown(std::chrono::milliseconds(0));
}

void SpanExporter::push(Span span) noexcept {
  auto& st = *state_;
  bool wake = false;
  {
    const std::lock_guard lock(st.mu);
    if (st.stop || st.queue.size() >= st.config.max_queue) {
      st.stats.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    try {
      st.queue.push_back(std::move(span));
    } catch (...) {
      st.stats.dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wake = st.queue.size() == st.config.max_batch;
  }
  if (wake) st.cv.notify_one();
}

bool SpanExporter::shutdown(std::chrono::milliseconds timeout) {
  auto& st = *state_;
  std::unique_lock lock(st.mu);
  if (!thread_.joinable()) return st.queue.empty();
  st.stop = true;
  st.give_up_at = Clock::now() + timeout;
  st.cv.notify_all();
  // A little past the deadline: the thread gives up at it, unless a POST holds it.
  const bool ended =
      st.done_cv.wait_until(lock, st.give_up_at + std::chrono::milliseconds(100), [&] { return st.done; });
  const bool all = st.queue.empty();
  st.stats.failed.fetch_add(st.queue.size(), std::memory_order_relaxed);
  st.queue.clear();
  lock.unlock();
  if (ended) {
    thread_.join();
  } else {
    thread_.detach();  // in a POST that has not timed out yet; it holds the state it needs
  }
  return all && ended;
}

void SpanExporter::run(const std::shared_ptr<State>& sp) {
  auto& st = *sp;
  auto next = Clock::now() + st.config.schedule_delay;
  std::vector<Span> batch;
  std::unique_lock lock(st.mu);
  for (;;) {
    st.cv.wait_until(lock, next, [&] { return st.stop || st.queue.size() >= st.config.max_batch; });
    const bool stopping = st.stop;
    if (st.queue.empty() || (stopping && Clock::now() >= st.give_up_at)) {
      if (stopping) break;
      next = Clock::now() + st.config.schedule_delay;
      continue;
    }
    const auto n = std::min(st.queue.size(), st.config.max_batch);
    const auto first = st.queue.begin();
    const auto last = first + static_cast<std::ptrdiff_t>(n);
    batch.assign(std::make_move_iterator(first), std::make_move_iterator(last));
    st.queue.erase(first, last);
    const auto deadline = stopping ? st.give_up_at : Clock::now() + st.config.export_timeout;
    lock.unlock();
    export_batch(st, batch, deadline);
    batch.clear();
    lock.lock();
    if (st.queue.size() < st.config.max_batch) next = Clock::now() + st.config.schedule_delay;
  }
  st.done = true;
  st.done_cv.notify_all();
}

void SpanExporter::export_batch(State& st, std::vector<Span>& batch, Clock::time_point deadline) {
  std::string body;
  try {
    body = encode_otlp_json(st.resource, batch, st.version);
  } catch (...) {
    st.stats.failed.fetch_add(batch.size(), std::memory_order_relaxed);
    return;
  }
  thread_local std::mt19937 jitter{std::random_device{}()};
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    // A shutdown brings the deadline forward.
    {
      const std::lock_guard lock(st.mu);
      if (st.stop) deadline = std::min(deadline, st.give_up_at);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    const auto r = st.post(body, std::min(left, st.config.request_timeout));
    if (r.status >= 200 && r.status < 300) {
      st.stats.exported.fetch_add(batch.size(), std::memory_order_relaxed);
      return;
    }
    if (!retryable(r)) break;
    // Retry-After when given, else exponential backoff with jitter; never past the deadline.
    auto wait = r.retry_after.count() > 0
                    ? r.retry_after
                    : backoff / 2 + std::chrono::milliseconds(
                                        std::uniform_int_distribution<std::int64_t>(0, backoff.count() / 2)(jitter));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    std::unique_lock lock(st.mu);
    const auto until = std::min(deadline, Clock::now() + wait);
    st.cv.wait_until(lock, until, [&] { return st.stop && Clock::now() >= st.give_up_at; });
  }
  st.stats.failed.fetch_add(batch.size(), std::memory_order_relaxed);
}

}  // namespace devops::serve::trace
