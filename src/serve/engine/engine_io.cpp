// A connection's events: reading, answering, writing, and what comes next.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <exception>

#include "serve/engine/engine_loop.hpp"
#include "serve/http/deferred.hpp"
#include "serve/log/log.hpp"

namespace devops::serve {

namespace {

std::shared_ptr<void> mint_token(void* /*loop*/, void* conn) {
  auto* c = static_cast<Conn*>(conn);
  if (!c->token) c->token = std::make_shared<ConnToken>(ConnToken{c});
  return c->token;
}

void wake_conn(void* loop, const std::shared_ptr<void>& token) {
  static_cast<Engine::Loop*>(loop)->woken(std::static_pointer_cast<ConnToken>(token));
}

// While the loop calls into one connection's protocol (always through
// produce()): a Deferred made then (a handler that answers later) knows whom
// to wake.
class CurrentConnection {
 public:
  CurrentConnection(Engine::Loop* loop, Conn* c) { set_current_connection(loop, c, &mint_token, &wake_conn); }
  ~CurrentConnection() { set_current_connection(nullptr, nullptr, nullptr, nullptr); }
  CurrentConnection(const CurrentConnection&) = delete;
  CurrentConnection& operator=(const CurrentConnection&) = delete;
};

}  // namespace

void Engine::Loop::on_event(Conn* c, std::uint32_t events) {
  if (c->closed) return;  // earlier in this turn
  try {
    if ((events & EPOLLERR) != 0) {
      close_conn(c);
      return;
    }
    if ((events & EPOLLIN) != 0) {
      on_readable(c);
      return;
    }
    if ((events & EPOLLHUP) != 0) {  // both directions are shut: nothing can be delivered
      close_conn(c);
      return;
    }
    if ((events & EPOLLOUT) != 0) settle(c, c->out, c->out_pos);
  } catch (const std::exception& ex) {
    e_.logger_.log(core::LogLevel::Error, "connection failed", {{"error_type", "engine"}, {"error", ex.what()}});
    close_conn(c);
  }
}

void Engine::Loop::on_readable(Conn* c) {
  if (c->lingering) {
    // After a refusal: read and drop what the client still sends, so that
    // closing does not reset the connection before it has read the answer.
    for (int i = 0; i < 4; ++i) {
      const auto n = ::recv(c->fd.get(), read_buf_.data(), read_buf_.size(), 0);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      break;
    }
    close_conn(c);
    return;
  }
  const auto n = ::recv(c->fd.get(), read_buf_.data(), read_buf_.size(), 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close_conn(c);
    return;
  }
  produce(c, [&](std::string& out) {
    if (n == 0) {
      c->eof = true;
    } else {
      c->proto->receive({read_buf_.data(), static_cast<std::size_t>(n)}, out, moment());
    }
  });
}

template <typename Fill>
void Engine::Loop::produce(Conn* c, Fill&& fill) {
  // Answers go to the loop's scratch buffer when nothing is queued (the usual
  // case); settle() keeps only what the socket does not take.
  const CurrentConnection current(this, c);
  const bool own = c->out.empty();
  std::string& out = own ? scratch_ : c->out;
  std::size_t scratch_pos = 0;
  if (own) scratch_.clear();
  fill(out);
  settle(c, out, own ? scratch_pos : c->out_pos);
}

bool Engine::Loop::send_out(Conn* c, std::string& out, std::size_t& pos) {
  while (pos < out.size()) {
    const auto n = ::send(c->fd.get(), out.data() + pos, out.size() - pos, MSG_NOSIGNAL);
    if (n >= 0) {
      pos += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else if (errno != EINTR) {
      close_conn(c);
      return false;
    }
  }
  if (pos == out.size()) {
    out.clear();
    pos = 0;
  }
  return true;
}

void Engine::Loop::settle(Conn* c, std::string& out, std::size_t& pos) {
  bool flushed = false;  // all output was written at some point: the client reads
  for (int round = 0; round < kSettleRounds; ++round) {
    const bool had_output = !out.empty();
    if (!send_out(c, out, pos)) return;
    flushed = flushed || (had_output && out.empty());
    if (!out.empty()) break;
    if (const auto st = c->proto->state(0); st.holding || st.closing) break;
    c->proto->resume(out, moment());
    if (out.empty()) break;
  }
  if (&out == &scratch_) {
    if (!out.empty()) {
      c->out.assign(out, pos);
      c->out_pos = 0;
    }
  } else if (c->out.empty() && c->out.capacity() > kKeepOutputCapacity) {
    std::string().swap(c->out);
  }
  ConnState state;
  state.proto = c->proto->state(c->out.size());
  state.output_pending = !c->out.empty();
  state.flushed = flushed;
  state.in_write_wait = c->list == &write_;
  state.eof = c->eof;
  state.draining = draining_;
  c->streaming = state.proto.streaming;
  apply(c, next_step(state, cfg_.timeouts, now_));
}

void Engine::Loop::apply(Conn* c, const Step& step) {
  if (step.action == Action::Close) {
    close_conn(c);
    return;
  }
  if (step.action == Action::Linger) {
    ::shutdown(c->fd.get(), SHUT_WR);
    c->lingering = true;
  }
  const std::uint32_t want = (step.read ? EPOLLIN : 0U) | (step.write ? EPOLLOUT : 0U);
  if (want != c->events) {
    reactor_.modify(c->fd.get(), want, tag_of(c));
    c->events = want;
  }
  switch (step.deadline) {
    case Deadline::KeepWrite: break;
    case Deadline::Write: append(write_, c, step.at); break;
    case Deadline::Hold:
      unlink(c);
      if (c->hold_armed && c->hold->first != step.at) {  // an HTTP/2 stream held for less than the one armed
        holds_.erase(c->hold);
        c->hold_armed = false;
      }
      if (!c->hold_armed) {
        c->hold = holds_.emplace(step.at, c);
        c->hold_armed = true;
      }
      break;
    case Deadline::None: unlink(c); break;
    case Deadline::Request:
      if (c->list != &request_ || c->deadline != step.at) append(request_, c, step.at);
      break;
    case Deadline::Idle: append(idle_, c, step.at); break;
    case Deadline::Linger: append(linger_, c, step.at); break;
  }
}

void Engine::Loop::notify(Conn* c) {
  produce(c, [&](std::string& out) { c->proto->notify(out, moment()); });
}

void Engine::Loop::drain(Conn* c) {
  bool close_now = false;
  produce(c, [&](std::string& out) { close_now = c->proto->drain(out, moment()); });
  if (!c->closed && close_now && c->out.empty()) close_conn(c);
}

void Engine::Loop::release(Conn* c) {
  produce(c, [&](std::string& out) { c->proto->release(out, moment()); });
}

void Engine::Loop::release_woken() {
  while (!woken_.empty()) {
    const auto batch = std::move(woken_);
    woken_.clear();
    for (const auto& t : batch) {
      Conn* c = t->conn;
      if (c == nullptr || c->closed) continue;
      if (c->hold_armed) {
        holds_.erase(c->hold);
        c->hold_armed = false;
      }
      try {
        release(c);
      } catch (const std::exception& ex) {
        e_.logger_.log(core::LogLevel::Error, "connection failed", {{"error_type", "engine"}, {"error", ex.what()}});
        close_conn(c);
      }
    }
  }
}

}  // namespace devops::serve
