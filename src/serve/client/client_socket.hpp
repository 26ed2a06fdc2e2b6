#pragma once

// One client connection whose every step ends by one deadline: connecting
// (each of the name's addresses in turn), sending, waiting for the answer.
// What the probes (`health --url`) read and write through.

#include <sys/types.h>

#include <chrono>
#include <string_view>

#include "core/fd.hpp"
#include "core/probe_url.hpp"
#include "serve/net/net_error.hpp"

namespace devops::serve {

class ClientSocket {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to target.host:target.port by `deadline`; on failure the
  // socket is not valid() and error() says why (Resolve, Refused, TimedOut, ...).
  ClientSocket(const core::HttpTarget& target, Clock::time_point deadline);

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  NetError error() const { return error_; }
  Clock::time_point deadline() const { return deadline_; }

  // Sends all of `data` by the deadline; false (error() set) otherwise.
  bool send_all(std::string_view data);
  // Waits for input until the deadline: the bytes read, 0 at the end of the
  // stream, -1 on an error or the deadline (error() says which).
  ssize_t receive(char* buf, std::size_t size);
  // Milliseconds to the deadline, for poll(); 0 once passed.
  int ms_left() const;

 private:
  core::Fd fd_;
  Clock::time_point deadline_;
  NetError error_{NetError::None};
};

}  // namespace devops::serve
