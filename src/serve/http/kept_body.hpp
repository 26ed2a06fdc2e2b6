#pragma once

// A request body kept for the service (POST /echo), counted against one
// budget for the whole process: 10,000 connections each sending the largest
// body a route takes cannot hold gigabytes between them. A body that would
// pass the budget is refused (503) instead of kept.

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

  // Appends `data`; false, keeping nothing more, when the bodies of the
  // whole process would then hold more than `process_limit` bytes.
  bool append(std::string_view data, std::uint64_t process_limit);
  std::string_view view() const { return data_; }
  std::size_t size() const { return data_.size(); }
  // Gives the bytes back to the budget.
  void clear();

  // The bytes every kept body holds now.
  static std::uint64_t in_use() { return total().load(std::memory_order_relaxed); }

 private:
  static std::atomic<std::uint64_t>& total();
  std::string data_;
};

}  // namespace devops::serve
