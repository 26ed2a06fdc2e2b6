#pragma once

// The server's own threads (event loops, log writer, flusher, control
// channel, config watcher) take no signal: SIGTERM and its kind reach the
// main thread, which waits for them (SignalWatch). A signal the kernel hands
// to a thread asleep in a blocking call is handled there at once normally,
// but under ThreadSanitizer it can wait until that call returns, which for
// an idle event loop is never: the shutdown would not start.

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
