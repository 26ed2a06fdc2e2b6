#include "serve/engine/next_step.hpp"

namespace devops::serve {

Step next_step(const ConnState& c, const ConnTimeouts& t, SteadyClock::time_point now) {
  const ProtoState& p = c.proto;
  if (!c.output_pending) {
    if (p.closing) {
      if (p.unread_input && !c.eof) return {Action::Linger, true, false, Deadline::Linger, now + t.linger};
      return {Action::Close};
    }
    if ((c.eof && !p.holding) || (c.draining && p.idle)) return {Action::Close};
  }
  Step s;
  s.write = c.output_pending;
  s.read = !c.eof && p.wants_input;
  if (c.output_pending || p.stalled) {
    // The write deadline runs from when the client last took everything
    // queued for it: a client that reads slowly but reads is not cut. An
    // HTTP/2 answer stalled by the client's flow-control window is the same
    // client not reading.
    if (c.in_write_wait && !c.flushed) {
      s.deadline = Deadline::KeepWrite;
    } else {
      s.deadline = Deadline::Write;
      s.at = now + t.write;
    }
  } else if (p.holding) {
    s.deadline = Deadline::Hold;
    s.at = p.release_at;
  } else if (p.mid_request) {
    s.deadline = Deadline::Request;  // a new one after pipelined answers, too
    s.at = p.request_started + t.request;
  } else if (p.streaming) {
    s.deadline = Deadline::None;
  } else {
    s.deadline = Deadline::Idle;
    s.at = now + t.idle;
  }
  return s;
}

}  // namespace devops::serve
