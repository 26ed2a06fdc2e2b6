#include "serve/process/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace devops::serve {

namespace {

// The signals that end the server, gracefully and logged: SIGTERM and SIGINT,
// and those whose default would kill it without a word.
constexpr int kWatched[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
struct sigaction g_old_pipe {};

sigset_t watched_set() {
  sigset_t set;
  sigemptyset(&set);
  for (const int sig : kWatched) sigaddset(&set, sig);
  return set;
}

// The next watched signal already pending, or 0.
int take_signal(int fd) {
  signalfd_siginfo info{};
  if (::read(fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return 0;
  return static_cast<int>(info.ssi_signo);
}

}  // namespace

const char* signal_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    default: return "signal";
  }
}

SignalWatch::SignalWatch() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("cannot create the wake-up pipe");
  wake_read_.reset(fds[0]);
  wake_write_.reset(fds[1]);

  const sigset_t set = watched_set();
  if (pthread_sigmask(SIG_BLOCK, &set, &old_mask_) != 0) throw std::runtime_error("cannot block the signals");
  signal_fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_.valid()) {
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    throw std::runtime_error("cannot create the signalfd");
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &g_old_pipe);  // a client that hangs up is an error code, not a death
}

SignalWatch::~SignalWatch() {
  // A signal that came after the last wait() is answered by the exit under
  // way: taken here, it does not kill the process once unblocked.
  while (take_signal(signal_fd_.get()) != 0) {
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  ::sigaction(SIGPIPE, &g_old_pipe, nullptr);
}

SignalWatch::Wait SignalWatch::wait(std::optional<std::chrono::milliseconds> timeout) {
  using namespace std::chrono;
  const auto deadline = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
  while (true) {
    if (const int sig = take_signal(signal_fd_.get()); sig != 0) return {Event::Signal, sig};
    unsigned char byte = 0;
    if (::read(wake_read_.get(), &byte, 1) == 1) return {Event::Woken};
    int wait_ms = -1;
    if (timeout) {
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
      if (left <= 0) return {Event::TimedOut};
      wait_ms = static_cast<int>(std::min<long long>(left, 60'000));
    }
    std::array<pollfd, 2> p{{{signal_fd_.get(), POLLIN, 0}, {wake_read_.get(), POLLIN, 0}}};
    (void)::poll(p.data(), p.size(), wait_ms);
  }
}

void SignalWatch::wake() {
  const unsigned char byte = 0;
  (void)!::write(wake_write_.get(), &byte, 1);
}

}  // namespace devops::serve
