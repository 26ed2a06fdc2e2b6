// What a connection does next (serve/http/next_step.hpp): every case of the
// decision, and every deadline, computed from an injected time. No sockets,
// no waiting.
#include <string>

#include "catch.hpp"
#include "serve/engine/next_step.hpp"

using namespace devops::serve;
using namespace std::chrono_literals;

namespace {

const SteadyClock::time_point kNow = SteadyClock::time_point{} + 1000s;

ConnTimeouts timeouts() {
  ConnTimeouts t;
  t.request = 10s;
  t.idle = 5s;
  t.write = 4s;
  t.linger = 2s;
  return t;
}

}  // namespace

TEST_CASE("next_step: every state of a connection, and the deadline it waits under") {
  struct Row {
    const char* name;
    ConnState state;
    Action action;
    bool read;
    bool write;
    Deadline deadline;
    SteadyClock::duration at;  // from kNow; ignored for KeepWrite, Close
  };
  ConnState idle;
  idle.proto.idle = true;
  idle.proto.wants_input = true;

  ConnState mid = idle;
  mid.proto.idle = false;
  mid.proto.mid_request = true;
  mid.proto.request_started = kNow - 3s;

  ConnState writing = idle;
  writing.proto.idle = false;
  writing.output_pending = true;

  ConnState full = writing;  // so much queued that reading pauses
  full.proto.wants_input = false;

  ConnState stalled = writing;  // waiting already, and the client took nothing
  stalled.in_write_wait = true;

  ConnState reading_slowly = stalled;  // waiting already, and the client took it all
  reading_slowly.flushed = true;

  ConnState closing;
  closing.proto.closing = true;

  ConnState refused = closing;  // a refusal mid-request: the client may still send
  refused.proto.unread_input = true;

  ConnState refused_gone = refused;
  refused_gone.eof = true;

  ConnState closing_writing = closing;
  closing_writing.output_pending = true;

  ConnState hung_up = idle;
  hung_up.eof = true;

  ConnState hung_up_held = hung_up;  // its held answer is still sent
  hung_up_held.proto.idle = false;
  hung_up_held.proto.holding = true;
  hung_up_held.proto.release_at = kNow + 700ms;

  ConnState held = idle;
  held.proto.idle = false;
  held.proto.holding = true;
  held.proto.release_at = kNow + 1500ms;

  ConnState watching = idle;  // an HTTP/2 connection with a gRPC Watch open
  watching.proto.idle = false;
  watching.proto.streaming = true;

  ConnState window_shut = watching;  // an HTTP/2 answer waits for the client's flow-control window
  window_shut.proto.streaming = false;
  window_shut.proto.stalled = true;

  ConnState window_still_shut = window_shut;
  window_still_shut.in_write_wait = true;

  ConnState draining_idle = idle;
  draining_idle.draining = true;

  ConnState draining_mid = mid;  // not idle: answered (saying close) before the connection goes
  draining_mid.draining = true;

  const Row rows[] = {
      {"idle keep-alive", idle, Action::Wait, true, false, Deadline::Idle, 5s},
      {"a request arriving", mid, Action::Wait, true, false, Deadline::Request, 7s},
      {"an answer queued", writing, Action::Wait, true, true, Deadline::Write, 4s},
      {"too much queued to read on", full, Action::Wait, false, true, Deadline::Write, 4s},
      {"a client that takes nothing", stalled, Action::Wait, true, true, Deadline::KeepWrite, {}},
      {"a client that reads slowly", reading_slowly, Action::Wait, true, true, Deadline::Write, 4s},
      {"closing, all written", closing, Action::Close, false, false, Deadline::Idle, {}},
      {"refused mid-request", refused, Action::Linger, true, false, Deadline::Linger, 2s},
      {"refused, the client gone", refused_gone, Action::Close, false, false, Deadline::Idle, {}},
      {"closing, still writing", closing_writing, Action::Wait, false, true, Deadline::Write, 4s},
      {"the client hung up", hung_up, Action::Close, false, false, Deadline::Idle, {}},
      {"hung up with an answer held", hung_up_held, Action::Wait, false, false, Deadline::Hold, 700ms},
      {"an answer held", held, Action::Wait, true, false, Deadline::Hold, 1500ms},
      {"a long-lived answer open", watching, Action::Wait, true, false, Deadline::None, {}},
      {"an answer held up by a shut window", window_shut, Action::Wait, true, false, Deadline::Write, 4s},
      {"a window still shut", window_still_shut, Action::Wait, true, false, Deadline::KeepWrite, {}},
      {"draining, idle", draining_idle, Action::Close, false, false, Deadline::Idle, {}},
      {"draining, a request arriving", draining_mid, Action::Wait, true, false, Deadline::Request, 7s},
  };
  for (const auto& row : rows) {
    SECTION(row.name) {
      const Step s = next_step(row.state, timeouts(), kNow);
      CHECK(s.action == row.action);
      if (row.action != Action::Close) {
        CHECK(s.read == row.read);
        CHECK(s.write == row.write);
        CHECK(s.deadline == row.deadline);
        if (row.deadline != Deadline::KeepWrite && row.deadline != Deadline::None) CHECK(s.at - kNow == row.at);
      }
    }
  }
}

TEST_CASE("next_step: a request's deadline runs from its first byte, not from now") {
  ConnState mid;
  mid.proto.mid_request = true;
  mid.proto.wants_input = true;
  for (const auto started : {0s, 4s, 9s, 12s}) {
    mid.proto.request_started = kNow - started;
    const Step s = next_step(mid, timeouts(), kNow);
    CHECK(s.deadline == Deadline::Request);
    CHECK(s.at == kNow - started + 10s);  // already past for a head trickled over 10 s: it expires at once
  }
}
