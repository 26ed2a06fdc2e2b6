#include "serve/http/kept_body.hpp"

namespace devops::serve {

std::atomic<std::uint64_t>& KeptBody::total() {
  static std::atomic<std::uint64_t> bytes{0};
  return bytes;
}

bool KeptBody::append(std::string_view data, std::uint64_t process_limit) {
  if (data.empty()) return true;
  auto& t = total();
  auto now = t.load(std::memory_order_relaxed);
  do {
    if (now + data.size() > process_limit) return false;
  } while (!t.compare_exchange_weak(now, now + data.size(), std::memory_order_relaxed));
  data_.append(data);
  return true;
}

void KeptBody::clear() {
  if (data_.empty()) return;
  total().fetch_sub(data_.size(), std::memory_order_relaxed);
  data_.clear();
  data_.shrink_to_fit();
}

}  // namespace devops::serve
