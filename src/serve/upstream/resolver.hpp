#pragma once

// Names resolved off the event loops: a small pool of threads around
// getaddrinfo(3), which follows /etc/hosts, resolv.conf's servers, search
// domains and ndots exactly as libc does (and as `health --url` does), with
// no library of its own to keep in step with resolv.conf. A lookup of a
// name already being looked up joins it, answers are kept a few seconds,
// and the queue is bounded: a DNS server that never answers holds one
// thread per name, never a loop. The loop's own deadline ends the call; a
// late answer is dropped (or kept for the next one).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>

namespace devops::serve {

// One address of a name, ready for connect(2).
struct ResolvedAddress {
  sockaddr_storage addr{};
  socklen_t len{0};
};

struct Resolution {
  std::vector<ResolvedAddress> addresses;  // in getaddrinfo's order (localhost: ::1 may come first)
  std::string error;                       // when there is none: why ("Name or service not known")
};

class Resolver {
 public:
  using Clock = std::chrono::steady_clock;
  // Called on a resolver thread: the caller posts it to its own loop.
  using Reply = std::function<void(const Resolution&)>;

  static constexpr std::size_t kThreads = 4;
  static constexpr std::size_t kMaxPending = 256;  // names waiting or being looked up
  static constexpr auto kKeepAnswers = std::chrono::seconds(5);
  static constexpr std::size_t kMaxKept = 1024;

  Resolver();
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // An answer kept from a recent lookup, if there is one (any thread).
  bool cached(const std::string& host, int port, Resolution& out);
  // Looks `host` up and calls `reply` with the answer, on a resolver thread.
  // False (reply never called) when kMaxPending names wait already.
  bool lookup(const std::string& host, int port, Reply reply);

 private:
  struct Pending {
    std::vector<Reply> replies;
  };
  struct Kept {
    Resolution answer;
    Clock::time_point until;
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Pending> pending_;  // "host port"
  std::deque<std::string> queue_;           // keys not yet started
  std::map<std::string, Kept> kept_;
  bool stop_{false};
  std::vector<std::thread> threads_;
};

// The process's resolver, made on first use.
Resolver& shared_resolver();

}  // namespace devops::serve
