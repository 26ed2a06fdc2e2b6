#pragma once

// Log lines from the event loops to a file descriptor without ever blocking
// them: lines go to a bounded queue that one thread writes out. When the
// descriptor cannot keep up (a pipe nobody reads), new lines are dropped and
// counted instead of stalling a request.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace devops::serve {

class LogWriter {
 public:
  // `dropped` counts the lines that found the queue full.
  LogWriter(int fd, std::size_t max_queued_bytes, std::atomic<std::uint64_t>& dropped);
  // Writes what is queued, waiting at most one second for the descriptor.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues one complete line (newline included); never blocks on the descriptor.
  void push(std::string_view line) noexcept;
  // Writes everything queued so far and stops the writer, waiting at most
  // `timeout` for the descriptor; false when lines were left unwritten.
  bool close(std::chrono::milliseconds timeout);

 private:
  void run();
  // Writes `batch` in pieces of whole lines; false when told to give up.
  bool write_batch(std::string_view batch);

  int fd_;
  std::size_t max_queued_;
  std::atomic<std::uint64_t>& dropped_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string queue_;
  bool stop_{false};
  std::atomic<bool> give_up_{false};
  bool closed_{false};
  std::thread thread_;
};

}  // namespace devops::serve
