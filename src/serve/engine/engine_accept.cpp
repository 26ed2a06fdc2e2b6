// Admission: accepting connections, the limit, and who makes room at it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "core/fd.hpp"
#include "serve/engine/engine_loop.hpp"

namespace devops::serve {

namespace {

std::string peer_address(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  std::string_view ip = buf;
  // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d.
  if (ip.starts_with("::ffff:") && ip.find('.') != std::string_view::npos) ip.remove_prefix(7);
  return std::string(ip);
}

}  // namespace

void Engine::Loop::accept_ready(const Listener& l) {
  const int listen_fd = l.fd.get();
  // A readiness reported in the same turn as the drain: the drain has been
  // acknowledged, and the engine closes the listener from now on.
  if (draining_) return;
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    core::Fd fd(::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && reserve_.valid()) {
        // Out of descriptors: free the spare one to take the client off the
        // queue and close it, rather than leave it waiting.
        reserve_.reset();
        core::Fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC)).reset();
        reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        e_.stats_.rejected.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        // No descriptors or memory for now: stop accepting for a moment
        // instead of spinning on a listener that stays readable.
        watch_listener(false);
        accept_paused_until_ = now_ + kAcceptPause;
      }
      return;
    }
    const auto open = e_.stats_.open.fetch_add(1, std::memory_order_relaxed);
    const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
    if (open >= limit && !make_room(open)) {
      e_.stats_.open.fetch_sub(1, std::memory_order_relaxed);
      e_.stats_.rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Conn>(std::move(fd), l.protocol(cfg_.limits, e_.service_, peer_address(ss)));
    Conn* c = conn.get();
    if (!reactor_.add(c->fd.get(), EPOLLIN, tag_of(c))) {
      e_.stats_.open.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    c->events = EPOLLIN;
    c->index = conns_.size();
    conns_.push_back(std::move(conn));
    high_water_ = std::max(high_water_, static_cast<std::int64_t>(conns_.size()));
    append(idle_, c, now_ + cfg_.timeouts.idle);
  }
}

Engine::Loop::Victims Engine::Loop::victims() {
  // At the limit, as nginx does, the connections that cost a new client its
  // place are closed first: idle ones (no byte yet, or between requests),
  // the longest idle first; then a request still arriving that began long
  // ago (a trickled head). An answer being written or held is never cut.
  // One whose request is waiting unread in the socket is not idle: the loop
  // just has not come to it yet.
  Conn* idle = nullptr;
  Conn* c = as_conn(idle_.head);
  for (int looked = 0; c != nullptr && looked < kEvictLookAhead; ++looked, c = as_conn(c->next)) {
    char byte = 0;
    if (::recv(c->fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {  // nothing waiting, or closed
      idle = c;
      break;
    }
  }
  if (idle != nullptr && idle->deadline - cfg_.timeouts.idle <= now_ - kIdleAMoment) return {idle, nullptr};
  if (request_.head != nullptr &&
      now_ - as_conn(request_.head)->proto->state(0).request_started >= kEvictRequestsOlderThan) {
    return {as_conn(request_.head), idle};
  }
  return {nullptr, idle};
}

void Engine::Loop::evict(Conn* c) {
  close_conn(c);
  e_.stats_.evicted.fetch_add(1, std::memory_order_relaxed);
}

bool Engine::Loop::make_room(std::int64_t open) {
  // A connection idle for a moment only (a client yet to send its request,
  // most likely) is spared while another loop may have idle ones: that loop
  // is asked to close its idlest, and the new connection is admitted over
  // the limit meanwhile, by a few at most.
  const auto v = victims();
  if (v.first != nullptr) {
    evict(v.first);
    return true;
  }
  const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
  if (open < limit + static_cast<std::int64_t>(kConnectionsOverLimit) && ask_another_loop_to_make_room()) return true;
  if (v.young == nullptr) return false;
  evict(v.young);
  return true;
}

void Engine::Loop::make_room_for_others() {
  // Back down to the limit: the longest idle first, as at accept; one walk
  // of the idle list per connection closed.
  const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
  while (e_.stats_.open.load(std::memory_order_relaxed) > limit) {
    const auto v = victims();
    Conn* c = v.first != nullptr ? v.first : v.young;
    if (c == nullptr) break;
    evict(c);
  }
}

bool Engine::Loop::ask_another_loop_to_make_room() {
  // The loop with the most idle connections as of its last turn.
  Loop* best = nullptr;
  std::size_t most = 0;
  for (const auto& loop : e_.loops_) {
    const auto idle = loop->idle_published_.load(std::memory_order_relaxed);
    if (loop.get() != this && idle > most) {
      best = loop.get();
      most = idle;
    }
  }
  if (best == nullptr) return false;
  best->request_room();
  return true;
}

void Engine::Loop::close_conn(Conn* c) {
  if (c->closed) return;
  c->closed = true;
  if (c->token) c->token->conn = nullptr;  // a deferred answer ready later finds it gone
  if (c->hold_armed) holds_.erase(c->hold);
  unlink(c);
  // The socket closes now; the connection itself lives to the end of the
  // turn, for an event of it still to come in this batch (closed by the
  // drain, or evicted, after epoll_wait reported it) finds it closed.
  c->fd.reset();
  closed_.push_back(std::move(conns_[c->index]));
  if (c->index + 1 != conns_.size()) {
    conns_[c->index] = std::move(conns_.back());
    conns_[c->index]->index = c->index;
  }
  conns_.pop_back();
  e_.stats_.open.fetch_sub(1, std::memory_order_relaxed);
  if (high_water_ > kTrimAbove && static_cast<std::int64_t>(conns_.size()) < high_water_ / 8) {
    high_water_ = static_cast<std::int64_t>(conns_.size());
    ::malloc_trim(0);  // a crowd has left: give its memory back to the system
  }
}

}  // namespace devops::serve
