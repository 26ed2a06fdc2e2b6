#pragma once

// The server's own threads (event loops, log writer, flusher, control
// channel, config watcher) take no signal. SIGTERM and its kind are blocked
// in every thread and read from a signalfd by the main thread (SignalWatch);
// one thread that left them open would be handed them by the kernel and
// die of the default action, or, with a handler, take them out of the
// signalfd's sight.

#include <pthread.h>

#include <csignal>
#include <thread>
#include <utility>

namespace devops::serve {

template <class F>
std::thread worker_thread(F&& f) {
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);  // the new thread inherits the mask
  std::thread t(std::forward<F>(f));
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace devops::serve
