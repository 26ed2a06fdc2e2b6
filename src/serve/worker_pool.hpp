#pragma once

// Threads on demand for blocking connections: a connection gets a thread at
// once while fewer than `max_threads` are busy (so idle or slow clients do
// not hold up a new one), and threads idle for `idle_timeout` exit, so an
// idle server keeps almost none.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

namespace devops::serve {

class WorkerPool {
 public:
  // `on_quiet` runs (on the leaving thread) whenever idle threads have left
  // and only `keep_idle` remain: a moment to hand memory back.
  WorkerPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout, std::size_t keep_idle = 1,
             std::function<void()> on_quiet = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `job` on an idle thread, a new one, or (at the cap) the next free one.
  // False once shut down.
  bool submit(std::function<void()> job);
  // Runs the jobs already queued, then joins every thread.
  void shutdown();

  std::size_t threads() const;
  std::size_t idle_threads() const;
  std::size_t queued() const;

 private:
  using Threads = std::list<std::thread>;
  void work(Threads::iterator self);
  void reap_locked(std::unique_lock<std::mutex>& lock);

  const std::size_t max_threads_;
  const std::chrono::milliseconds idle_timeout_;
  const std::size_t keep_idle_;
  const std::function<void()> on_quiet_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  Threads running_;
  Threads exited_;  // threads that left after idling, to join (at most one or two at a time)
  std::size_t idle_{0};
  bool stopping_{false};
};

}  // namespace devops::serve
