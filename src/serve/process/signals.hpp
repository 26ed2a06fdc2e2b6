#pragma once

// SIGTERM and SIGINT (and SIGHUP, SIGUSR1, SIGUSR2, which would otherwise
// end the process without a log line) as events a thread can wait for. The
// signals are blocked and read from a signalfd: no handler runs anywhere, so
// no thread can take a signal and sit on it (ThreadSanitizer's runtime keeps
// a signal that lands in the wrong place pending until that thread's next
// call into it, which for a thread asleep may be never). A blocked signal is
// also never discarded, which keeps them working for PID 1 in a container,
// where the kernel drops a signal left at its default action.

#include <csignal>

#include <chrono>
#include <optional>

#include "core/fd.hpp"

namespace devops::serve {

class SignalWatch {
 public:
  // Blocks the signals in the calling thread (the main thread, before it
  // starts any other: threads inherit the mask) and ignores SIGPIPE. One
  // instance at a time.
  SignalWatch();
  // Takes what is still pending and restores the previous mask.
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  enum class Event { Signal, Woken, TimedOut };
  struct Wait {
    Event event;
    int signal{};  // with Event::Signal
  };
  // Blocks until a signal, a wake() or the timeout (none: wait forever).
  Wait wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // Makes wait() return Event::Woken; safe from any thread.
  void wake();

 private:
  core::Fd signal_fd_;
  core::Fd wake_read_;
  core::Fd wake_write_;
  sigset_t old_mask_{};
};

// "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", or "signal".
const char* signal_name(int sig);

}  // namespace devops::serve
