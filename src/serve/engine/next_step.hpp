#pragma once

// What a connection does next, after the event loop has written what the
// socket would take: close, linger (read off what the client still sends,
// then close) or wait, for which events and until which deadline. A pure
// function of the connection's state, the timeouts and the time, so every
// case and every deadline is a unit test (tests/unit/test_serve_next_step.cpp).

#include <chrono>

#include "serve/http/conn_protocol.hpp"

namespace devops::serve {

struct ConnTimeouts {
  std::chrono::milliseconds request{10'000};  // a whole request (head and body) from its first byte
  std::chrono::milliseconds idle{5'000};      // a connection between requests
  std::chrono::milliseconds write{5'000};     // an answer the client does not read
  std::chrono::milliseconds linger{2'000};    // reading what is left after a refusal, before closing
};

// The connection as the decision sees it: its protocol's state, and the engine's.
struct ConnState {
  ProtoState proto;
  bool output_pending{false};  // answers the socket has not taken yet
  bool flushed{false};         // the socket took everything queued at some point in this round
  bool in_write_wait{false};   // it was waiting on a write deadline already
  bool eof{false};             // the client has closed its side
  bool draining{false};        // the server is shutting down
};

enum class Action { Wait, Close, Linger };

// Which deadline the connection waits under.
enum class Deadline {
  KeepWrite,  // the write deadline it has (no progress: the clock is not reset)
  Write,      // a new write deadline
  Hold,       // the held answer's release
  Request,    // the request now arriving
  Idle,       // the keep-alive
  Linger,     // lingering
  None,       // a long-lived answer is open and nothing else waits: no deadline
};

struct Step {
  Action action{Action::Wait};
  bool read{false};   // EPOLLIN
  bool write{false};  // EPOLLOUT
  Deadline deadline{Deadline::Idle};
  SteadyClock::time_point at{};  // for every deadline but KeepWrite
};

Step next_step(const ConnState& c, const ConnTimeouts& t, SteadyClock::time_point now);

}  // namespace devops::serve
