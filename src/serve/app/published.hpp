#pragma once

// A value that one thread replaces while others read it: each reader keeps
// its own reference and only takes the lock after a publish(), so that the
// request path costs one atomic load and never waits for a writer.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace devops::serve {

namespace detail {
inline std::atomic<std::uint64_t> published_instances{0};
}

template <class T>
class Published {
 public:
  explicit Published(T initial)
      : id_(detail::published_instances.fetch_add(1) + 1), value_(std::make_shared<const T>(std::move(initial))) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  // Replaces the value; readers see it on their next current().
  void publish(T next) {
    auto fresh = std::make_shared<const T>(std::move(next));
    std::lock_guard lock(mu_);
    value_ = std::move(fresh);
    generation_.fetch_add(1, std::memory_order_release);
  }

  // The value now, shared.
  std::shared_ptr<const T> load() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  // This thread's reference to the latest value. It stays valid until this
  // thread's next current() of any Published<T>.
  const T& current() const {
    struct Cached {
      std::uint64_t owner = 0;
      std::uint64_t generation = 0;
      std::shared_ptr<const T> value;
    };
    thread_local Cached cached;
    const auto gen = generation_.load(std::memory_order_acquire);
    if (cached.owner != id_ || cached.generation != gen || !cached.value) {
      std::lock_guard lock(mu_);
      cached = {id_, generation_.load(std::memory_order_relaxed), value_};
    }
    return *cached.value;
  }

 private:
  std::uint64_t id_;
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace devops::serve
