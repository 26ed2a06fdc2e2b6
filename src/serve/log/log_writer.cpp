#include "serve/log/log_writer.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "serve/net/worker_thread.hpp"

namespace devops::serve {

namespace {

// Pieces of at most a pipe's atomic size: once poll(2) says the pipe has room,
// such a write does not block.
constexpr std::size_t kPiece = 4096;
constexpr int kPollMs = 100;
// Lines that arrive within this long after a write go out together.
constexpr auto kGather = std::chrono::milliseconds(2);

}  // namespace

LogWriter::LogWriter(int fd, std::size_t max_queued_bytes, std::atomic<std::uint64_t>& dropped)
    : fd_(fd), max_queued_(max_queued_bytes), dropped_(dropped), thread_(worker_thread([this] { run(); })) {}

LogWriter::~LogWriter() {
  close(std::chrono::seconds(1));
}

void LogWriter::push(std::string_view line) noexcept {
  bool wake = false;
  {
    const std::lock_guard lock(mu_);
    if (closed_ || queue_.size() + line.size() > max_queued_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wake = queue_.empty();
    try {
      queue_.append(line);
    } catch (...) {  // out of memory: the line is lost, the request is not
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  if (wake) cv_.notify_one();
}

bool LogWriter::close(std::chrono::milliseconds timeout) {
  {
    const std::lock_guard lock(mu_);
    if (closed_) return true;
    closed_ = true;
    stop_ = true;
  }
  cv_.notify_one();
  // The writer checks give_up_ between polls, so it ends within kPollMs of it.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool done = false;
  {
    std::unique_lock lock(mu_);
    done = cv_.wait_until(lock, deadline, [this] { return queue_.empty() && !stop_; });
  }
  if (!done) give_up_ = true;
  thread_.join();
  return done;
}

void LogWriter::run() {
  std::string batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stop_; });
      if (queue_.empty()) {  // stopping, and all written
        stop_ = false;
        cv_.notify_all();
        return;
      }
      batch.swap(queue_);
    }
    if (!write_batch(batch)) return;
    batch.clear();
    if (batch.capacity() > 4 * kPiece * 16) batch.shrink_to_fit();  // after a burst
    std::this_thread::sleep_for(kGather);
  }
}

bool LogWriter::write_batch(std::string_view batch) {
  while (!batch.empty()) {
    // A piece ends at a line end, so a reader never sees half a line.
    std::size_t len = batch.size();
    if (len > kPiece) {
      const void* nl = ::memrchr(batch.data(), '\n', kPiece);
      len = nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - batch.data()) + 1 : kPiece;
    }
    pollfd p{fd_, POLLOUT, 0};
    const int ready = ::poll(&p, 1, kPollMs);
    if (give_up_.load()) return false;
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    const auto n = ::write(fd_, batch.data(), len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;  // stdout closed or broken: drop the batch, logging never stops the service
    batch.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace devops::serve
