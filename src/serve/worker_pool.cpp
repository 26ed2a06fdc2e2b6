#include "serve/worker_pool.hpp"

#include <utility>

namespace devops::serve {

WorkerPool::WorkerPool(std::size_t max_threads, std::chrono::milliseconds idle_timeout, std::size_t keep_idle,
                       std::function<void()> on_quiet)
    : max_threads_(max_threads < 1 ? 1 : max_threads),
      idle_timeout_(idle_timeout),
      keep_idle_(keep_idle),
      on_quiet_(std::move(on_quiet)) {}

WorkerPool::~WorkerPool() {
  shutdown();
}

bool WorkerPool::submit(std::function<void()> job) {
  std::unique_lock lock(mu_);
  // Join the threads that left first: reaping drops the lock, so every check
  // below must come after it.
  reap_locked(lock);
  if (stopping_) return false;
  jobs_.push_back(std::move(job));
  if (jobs_.size() > idle_ && running_.size() < max_threads_) {
    running_.emplace_back();
    auto self = std::prev(running_.end());
    *self = std::thread(&WorkerPool::work, this, self);
  } else {
    wake_.notify_one();
  }
  return true;
}

void WorkerPool::work(Threads::iterator self) {
  std::unique_lock lock(mu_);
  while (true) {
    if (!jobs_.empty()) {
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      job = nullptr;  // release what the job holds before taking the lock
      lock.lock();
      continue;
    }
    if (stopping_) return;
    ++idle_;
    const bool woken = wake_.wait_for(lock, idle_timeout_, [&] { return !jobs_.empty() || stopping_; });
    --idle_;
    if (!woken && running_.size() > keep_idle_) {
      // Idle too long: leave. Join the threads that left before (their
      // stacks stay mapped until joined); the next leaver, submit() or
      // shutdown() joins this one.
      Threads before;
      before.splice(before.end(), exited_);
      exited_.splice(exited_.end(), running_, self);
      const bool quiet = running_.size() == keep_idle_;
      lock.unlock();
      for (auto& t : before) t.join();
      if (quiet && on_quiet_) on_quiet_();
      return;
    }
  }
}

void WorkerPool::reap_locked(std::unique_lock<std::mutex>& lock) {
  if (exited_.empty()) return;
  Threads done;
  done.splice(done.end(), exited_);
  lock.unlock();
  for (auto& t : done) t.join();  // they hold no lock: this returns at once
  lock.lock();
}

void WorkerPool::shutdown() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  wake_.notify_all();
  Threads all;
  all.splice(all.end(), running_);
  all.splice(all.end(), exited_);
  lock.unlock();
  for (auto& t : all) {
    if (t.joinable()) t.join();
  }
}

std::size_t WorkerPool::threads() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

std::size_t WorkerPool::idle_threads() const {
  std::lock_guard lock(mu_);
  return idle_;
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

}  // namespace devops::serve
