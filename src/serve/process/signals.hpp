#pragma once

// SIGTERM and SIGINT (and SIGHUP, SIGUSR1, SIGUSR2, which would otherwise
// end the process without a log line) as events a thread can wait for. The handlers only
// write the signal number to a pipe (the self-pipe trick); installing them
// explicitly also makes the signals work for PID 1 in a container, which the
// kernel would otherwise ignore.

#include <chrono>
#include <optional>

#include "core/fd.hpp"

namespace devops::serve {

class SignalWatch {
 public:
  // Installs the handlers (and ignores SIGPIPE). One instance at a time.
  SignalWatch();
  // Restores the previous handlers.
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
  core::Fd read_fd_;
  core::Fd write_fd_;
};

// "SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2", or "signal".
const char* signal_name(int sig);

}  // namespace devops::serve
