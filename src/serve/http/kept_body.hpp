#pragma once

// A request body kept for the service (POST /echo), counted against one
// budget for the whole process: 10,000 connections each sending the largest
// body a route takes cannot hold gigabytes between them (HttpLimits::
// max_kept_bodies, 16 MiB: half the chart's memory limit). A body that would
// pass the budget is refused (503) instead of kept. The answer built from
// it (the echo) is charged to the same budget until it has been written:
// a client that sends bodies and never reads cannot pile answers up either.

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace devops::serve {

class KeptBody {
 public:
  KeptBody() = default;
  ~KeptBody() { clear(); }
  KeptBody(const KeptBody&) = delete;
  KeptBody& operator=(const KeptBody&) = delete;
  KeptBody(KeptBody&& o) noexcept;
  KeptBody& operator=(KeptBody&& o) noexcept;

  // Appends `data`; false, keeping nothing more, when the bodies of the
  // whole process would then hold more than `process_limit` bytes.
  bool append(std::string_view data, std::uint64_t process_limit);
  // Room for `bytes` (a Content-Length within the route's limit), counted
  // at once, so that growing never holds twice the body; false as append().
  bool reserve(std::size_t bytes, std::uint64_t process_limit);
  std::string_view view() const { return data_; }
  // Counts `bytes` more against the budget whatever it holds: an answer
  // built from the body, until it has left.
  void charge(std::size_t bytes);
  // Takes over what `o` counts (its bytes are freed, the count stays): the
  // bodies and answers of pipelined requests, until all are written.
  void absorb(KeptBody& o);
  // Gives the bytes back to the budget.
  void clear();

  // The bytes every kept body counts now.
  static std::uint64_t in_use() { return total().load(std::memory_order_relaxed); }

 private:
  static std::atomic<std::uint64_t>& total();
  // Counts `bytes` more, unless the process would pass `process_limit`.
  static bool take(std::size_t bytes, std::uint64_t process_limit);
  std::string data_;
  std::size_t counted_{0};  // for data_: at least its size (more once reserved)
  std::size_t charged_{0};  // for answers and absorbed bodies
};

}  // namespace devops::serve
