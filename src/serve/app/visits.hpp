#pragma once

// The visit counter of `GET /`: a count in memory, written to DIR/visits by a
// thread of its own every flush interval (temporary file, fsync, rename, fsync
// of the directory), so the request path only increments an atomic. One
// process per directory: DIR/visits.lock is held with flock(2).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/fd.hpp"
#include "core/serve_config.hpp"
#include "serve/log/log.hpp"

namespace devops::serve {

class VisitCounter {
 public:
  // Reads DIR/visits (missing: 0), takes the lock and writes the file at once.
  // Throws std::runtime_error, naming the file, when the file is not a number
  // (it is left as it is), cannot be read, or another process holds the lock.
  // A directory that cannot be written is no reason to refuse: the count goes
  // on in memory, an ERROR is logged and writable() says so.
  VisitCounter(std::string dir, const Logger& logger, std::chrono::milliseconds interval = core::kDefaultFlushInterval);
  ~VisitCounter();
  VisitCounter(const VisitCounter&) = delete;
  VisitCounter& operator=(const VisitCounter&) = delete;

  // One visit; the new count.
  std::uint64_t add() { return count_.fetch_add(1, std::memory_order_relaxed) + 1; }
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Whether the last write reached the disk; last_error() says why not.
  bool writable() const { return writable_.load(std::memory_order_relaxed); }
  std::string last_error() const;

  // Writes the count now if it changed since the last write; false if that failed.
  bool flush();
  // Stops the flusher thread after a last flush; false if that flush failed
  // (last_error() says why). Safe to call more than once.
  bool stop();

  const std::string& path() const { return path_; }

 private:
  void run();
  bool write_locked(std::uint64_t n);

  std::string dir_;
  std::string path_;
  std::string tmp_path_;
  const Logger& logger_;
  std::chrono::milliseconds interval_;
  core::Fd lock_fd_;  // flock()ed while the counter lives
  std::atomic<std::uint64_t> count_{0};
  std::atomic<bool> writable_{true};

  mutable std::mutex write_mutex_;  // one write at a time; guards written_ and error_
  std::uint64_t written_{0};
  bool ever_written_{false};
  std::string error_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_{false};
  std::thread flusher_;
};

// Parses the counter file's text: decimal digits and an optional final newline.
std::optional<std::uint64_t> parse_visit_count(std::string_view text);

}  // namespace devops::serve
