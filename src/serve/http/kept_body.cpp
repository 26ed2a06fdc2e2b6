#include "serve/http/kept_body.hpp"

#include <utility>

namespace devops::serve {

std::atomic<std::uint64_t>& KeptBody::total() {
  static std::atomic<std::uint64_t> bytes{0};
  return bytes;
}

bool KeptBody::take(std::size_t bytes, std::uint64_t process_limit) {
  auto& t = total();
  auto now = t.load(std::memory_order_relaxed);
  do {
    if (now + bytes > process_limit) return false;
  } while (!t.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

KeptBody::KeptBody(KeptBody&& o) noexcept
    : data_(std::move(o.data_)), counted_(std::exchange(o.counted_, 0)), charged_(std::exchange(o.charged_, 0)) {
  o.data_.clear();
}

KeptBody& KeptBody::operator=(KeptBody&& o) noexcept {
  if (this != &o) {
    clear();
    data_ = std::move(o.data_);
    counted_ = std::exchange(o.counted_, 0);
    charged_ = std::exchange(o.charged_, 0);
    o.data_.clear();
  }
  return *this;
}

bool KeptBody::append(std::string_view data, std::uint64_t process_limit) {
  const auto need = data_.size() + data.size();
  if (need > counted_) {
    if (!take(need - counted_, process_limit)) return false;
    counted_ = need;
  }
  data_.append(data);
  return true;
}

bool KeptBody::reserve(std::size_t bytes, std::uint64_t process_limit) {
  if (bytes > counted_) {
    if (!take(bytes - counted_, process_limit)) return false;
    counted_ = bytes;
  }
  data_.reserve(bytes);
  return true;
}

void KeptBody::charge(std::size_t bytes) {
  total().fetch_add(bytes, std::memory_order_relaxed);
  charged_ += bytes;
}

void KeptBody::absorb(KeptBody& o) {
  charged_ += std::exchange(o.counted_, 0) + std::exchange(o.charged_, 0);
  o.data_.clear();
  o.data_.shrink_to_fit();
}

void KeptBody::clear() {
  if (counted_ + charged_ == 0) return;
  total().fetch_sub(counted_ + charged_, std::memory_order_relaxed);
  counted_ = 0;
  charged_ = 0;
  data_.clear();
  data_.shrink_to_fit();
}

}  // namespace devops::serve
