#include "serve/http/next_step.hpp"

namespace devops::serve {

Step next_step(const ConnState& c, const ConnTimeouts& t, SteadyClock::time_point now) {
  if (!c.output_pending) {
    if (c.closing) {
      if (c.unread_input && !c.eof) return {Action::Linger, true, false, Deadline::Linger, now + t.linger};
      return {Action::Close};
    }
    if ((c.eof && !c.holding) || (c.draining && c.idle)) return {Action::Close};
  }
  Step s;
  s.write = c.output_pending;
  s.read = !c.eof && c.wants_input;
  if (c.output_pending) {
    // The write deadline runs from when the client last took everything
    // queued for it: a client that reads slowly but reads is not cut.
    if (c.in_write_wait && !c.flushed) {
      s.deadline = Deadline::KeepWrite;
    } else {
      s.deadline = Deadline::Write;
      s.at = now + t.write;
    }
  } else if (c.holding) {
    s.deadline = Deadline::Hold;
    s.at = c.release_at;
  } else if (c.mid_request) {
    s.deadline = Deadline::Request;  // a new one after pipelined answers, too
    s.at = c.request_started + t.request;
  } else {
    s.deadline = Deadline::Idle;
    s.at = now + t.idle;
  }
  return s;
}

}  // namespace devops::serve
