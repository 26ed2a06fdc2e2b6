#include "serve/trace/span_exporter.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <random>

#include "serve/net/worker_thread.hpp"

namespace devops::serve::trace {

namespace {

using Clock = std::chrono::steady_clock;

bool retryable(const PostResult& r) {
  return r.status == 0 || r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504;
}

}  // namespace

// The queue is sharded: each pushing thread has a shard of its own (by a
// number it draws once), so that the event loops never wait for one another,
// and the exporter's thread takes a shard's spans whole by swapping vectors.
// `queued` counts the spans in all shards: a full queue drops without a lock.
constexpr std::size_t kShards = 8;

struct SpanExporter::State {
  State(BatchConfig c, Resource r, std::string v, PostFn p, ExportStats& s)
      : config(c), resource(std::move(r)), version(std::move(v)), post(std::move(p)), stats(s) {}
  BatchConfig config;
  Resource resource;
  std::string version;
  PostFn post;
  ExportStats& stats;
  struct Shard {
    std::mutex mu;
    std::vector<Span> spans;
  };
  std::array<Shard, kShards> shards;
  std::atomic<std::size_t> queued{0};
  std::mutex mu;                    // the stop, the thread's wait
  std::condition_variable cv;       // the thread waits on it for spans and the stop
  std::condition_variable done_cv;  // shutdown() waits on it for the thread's end
  // Set under `mu` (the thread's waits depend on it); push() reads it
  // without the lock and drops from the shutdown on.
  std::atomic<bool> stop{false};
  bool done{false};
  Clock::time_point give_up_at{Clock::time_point::max()};

  // Moves every queued span to the end of `out`.
  void take_all(std::vector<Span>& out) {
    for (auto& shard : shards) {
      std::vector<Span> taken;
      {
        const std::lock_guard lock(shard.mu);
        taken.swap(shard.spans);
      }
      queued.fetch_sub(taken.size(), std::memory_order_relaxed);
      if (out.empty()) {
        out.swap(taken);
      } else {
        out.insert(out.end(), std::make_move_iterator(taken.begin()), std::make_move_iterator(taken.end()));
      }
    }
  }
};

namespace {

std::size_t shard_of_this_thread() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

}  // namespace

SpanExporter::SpanExporter(BatchConfig config, Resource resource, std::string version, PostFn post,
                           ExportStats& stats) {
  config.max_batch = std::clamp<std::size_t>(config.max_batch, 1, std::max<std::size_t>(config.max_queue, 1));
  state_ = std::make_shared<State>(config, std::move(resource), std::move(version), std::move(post), stats);
  thread_ = worker_thread([st = state_] { run(st); });
}

SpanExporter::~SpanExporter() {
  shutdown(std::chrono::milliseconds(0));
}

void SpanExporter::push(Span span) noexcept {
  auto& st = *state_;
  // Room is taken before the span goes in, so that the queue never holds
  // more than max_queue; a stopped exporter takes nothing.
  const auto before = st.queued.fetch_add(1, std::memory_order_relaxed);
  if (before >= st.config.max_queue || st.stop.load(std::memory_order_relaxed)) {
    st.queued.fetch_sub(1, std::memory_order_relaxed);
    st.stats.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto& shard = st.shards[shard_of_this_thread()];
  try {
    const std::lock_guard lock(shard.mu);
    shard.spans.push_back(std::move(span));
  } catch (...) {
    st.queued.fetch_sub(1, std::memory_order_relaxed);
    st.stats.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (before + 1 == st.config.max_batch) {  // a batch is full: wake the thread (once per batch)
    const std::lock_guard lock(st.mu);
    st.cv.notify_one();
  }
}

bool SpanExporter::shutdown(std::chrono::milliseconds timeout) {
  auto& st = *state_;
  std::unique_lock lock(st.mu);
  if (!thread_.joinable()) return st.queued.load() == 0;
  const auto failed_before = st.stats.failed.load();
  st.stop = true;
  st.give_up_at = Clock::now() + timeout;
  st.cv.notify_all();
  // A little past the deadline: the thread gives up at it, unless a POST holds it.
  const bool ended =
      st.done_cv.wait_until(lock, st.give_up_at + std::chrono::milliseconds(100), [&] { return st.done; });
  lock.unlock();
  bool all = true;
  if (ended) {
    thread_.join();
    // What the thread left queued at the deadline.
    std::vector<Span> left;
    st.take_all(left);
    all = left.empty();
    st.stats.failed.fetch_add(left.size(), std::memory_order_relaxed);
  } else {
    thread_.detach();  // in a POST that has not timed out yet; it holds the state it needs
  }
  return all && ended && st.stats.failed.load() == failed_before;
}

void SpanExporter::run(const std::shared_ptr<State>& sp) {
  auto& st = *sp;
  auto next = Clock::now() + st.config.schedule_delay;
  std::vector<Span> taken;
  std::unique_lock lock(st.mu);
  for (;;) {
    st.cv.wait_until(lock, next,
                     [&] { return st.stop || st.queued.load(std::memory_order_relaxed) >= st.config.max_batch; });
    const bool stopping = st.stop;
    const auto deadline = stopping ? st.give_up_at : Clock::now() + st.config.export_timeout;
    lock.unlock();
    st.take_all(taken);
    // In batches of max_batch, until the deadline; what is left then failed.
    std::size_t at = 0;
    while (at < taken.size()) {
      if (stopping && Clock::now() >= deadline) break;
      const auto n = std::min(taken.size() - at, st.config.max_batch);
      export_batch(st, std::span<const Span>(taken).subspan(at, n), deadline);
      at += n;
    }
    st.stats.failed.fetch_add(taken.size() - at, std::memory_order_relaxed);
    taken.clear();
    lock.lock();
    if (stopping) break;
    next = Clock::now() + st.config.schedule_delay;
  }
  st.done = true;
  st.done_cv.notify_all();
}

void SpanExporter::export_batch(State& st, std::span<const Span> batch, Clock::time_point deadline) {
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
