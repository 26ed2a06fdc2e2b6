#include "serve/process/signals.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <iterator>
#include <stdexcept>

namespace devops::serve {

namespace {

constexpr int kRecheckMs = 250;
volatile std::sig_atomic_t g_write_fd = -1;
// The signals that end the server, gracefully and logged: SIGTERM and SIGINT,
// and those whose default would kill it without a word.
constexpr int kWatched[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
struct sigaction g_old[std::size(kWatched)]{};
struct sigaction g_old_pipe {};

extern "C" void on_signal(int sig) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(sig);
  if (g_write_fd >= 0) (void)!::write(g_write_fd, &byte, 1);
  errno = saved;
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
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("cannot create the signal pipe");
  read_fd_.reset(fds[0]);
  write_fd_.reset(fds[1]);
  g_write_fd = write_fd_.get();

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (std::size_t i = 0; i < std::size(kWatched); ++i) ::sigaction(kWatched[i], &sa, &g_old[i]);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, &g_old_pipe);  // a client that hangs up is an error code, not a death
}

SignalWatch::~SignalWatch() {
  for (std::size_t i = 0; i < std::size(kWatched); ++i) ::sigaction(kWatched[i], &g_old[i], nullptr);
  ::sigaction(SIGPIPE, &g_old_pipe, nullptr);
  g_write_fd = -1;
}

SignalWatch::Wait SignalWatch::wait(std::optional<std::chrono::milliseconds> timeout) {
  using namespace std::chrono;
  const auto deadline = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
  while (true) {
    unsigned char byte = 0;
    const auto n = ::read(read_fd_.get(), &byte, 1);
    if (n == 1) return byte == 0 ? Wait{Event::Woken} : Wait{Event::Signal, byte};
    // Never asleep for long: ThreadSanitizer's runtime (GCC 12's) defers a
    // signal that arrives just before a blocking call until the call returns,
    // so an endless poll could hold SIGTERM forever. Looking again every
    // 250 ms bounds that delay and costs nothing measurable.
    int wait_ms = kRecheckMs;
    if (timeout) {
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count();
      if (left <= 0) return {Event::TimedOut};
      wait_ms = static_cast<int>(std::min<long long>(left, kRecheckMs));
    }
    pollfd p{read_fd_.get(), POLLIN, 0};
    (void)::poll(&p, 1, wait_ms);
  }
}

void SignalWatch::wake() {
  const unsigned char byte = 0;
  (void)!::write(write_fd_.get(), &byte, 1);
}

}  // namespace devops::serve
