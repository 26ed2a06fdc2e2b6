#pragma once

// One thread's event loop core: an epoll set of descriptors, each with a tag
// its owner chooses, and an eventfd that wakes it from another thread. It
// knows nothing of HTTP or of what the descriptors are.

#include <sys/epoll.h>

#include <array>
#include <cstdint>

#include "core/fd.hpp"

namespace devops::serve {

class Reactor {
 public:
  // Throws std::system_error when epoll or the eventfd cannot be made.
  Reactor();

  // Watches `fd` for `events` (EPOLLIN, EPOLLOUT, ...); `tag` comes back
  // with its events. False when the kernel refuses.
  bool add(int fd, std::uint32_t events, void* tag);
  bool modify(int fd, std::uint32_t events, void* tag);
  bool remove(int fd);

  // Waits up to `timeout_ms` (-1: until something happens) for events;
  // returns how many descriptors are ready.
  int poll(int timeout_ms) {
    ready_ = ::epoll_wait(ep_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
    return ready_ > 0 ? ready_ : 0;
  }
  // Then calls on_event(tag, events) for each descriptor poll() found ready,
  // and on_wake() if wake() was called.
  template <typename OnEvent, typename OnWake>
  void dispatch(OnEvent&& on_event, OnWake&& on_wake) {
    for (int i = 0; i < ready_; ++i) {
      const auto& e = events_[static_cast<std::size_t>(i)];
      if (e.data.ptr == &wake_tag_) {
        drain_wake();
        on_wake();
      } else {
        on_event(e.data.ptr, e.events);
      }
    }
    ready_ = 0;
  }

  // From any thread: makes the current or next poll() return, and dispatch() call on_wake().
  void wake() const noexcept { core::notify(wake_.get()); }

 private:
  void drain_wake() const noexcept;

  core::Fd ep_;
  core::Fd wake_;
  char wake_tag_{};
  std::array<epoll_event, 256> events_{};
  int ready_{0};
};

}  // namespace devops::serve
