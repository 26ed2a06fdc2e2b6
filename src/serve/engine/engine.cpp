#include "serve/engine/engine.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <exception>

#include "core/fd.hpp"
#include "serve/engine/engine_loop.hpp"
#include "serve/log/log.hpp"
#include "serve/net/worker_thread.hpp"

namespace devops::serve {

Engine::Loop::Loop(Engine& engine) : e_(engine), cfg_(engine.config_) {
  for (const auto& l : engine.listeners_) listeners_.push_back(l.get());
  reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  watch_listener(true);
  if (cfg_.side) side_ = cfg_.side(reactor_);
}

Engine::Loop::~Loop() {
  while (!conns_.empty()) close_conn(conns_.back().get());
}

void Engine::Loop::watch_listener(bool on) {
  if (on == listening_ || listeners_.empty()) return;
  // EPOLLEXCLUSIVE: one loop wakes per new connection.
  for (const Listener* l : listeners_) {
    auto* tag = const_cast<Listener*>(l);
    (void)(on ? reactor_.add(l->fd.get(), EPOLLIN | EPOLLEXCLUSIVE, tag) : reactor_.remove(l->fd.get()));
  }
  listening_ = on;
}

void Engine::Loop::run() {
  if (side_) side_->started();
  while (!(draining_ && conns_.empty())) {
    try {
      reactor_.poll(next_timeout());
      now_ = SteadyClock::now();
      reactor_.dispatch(
          [this](void* tag, std::uint32_t events) {
            for (const Listener* l : listeners_) {
              if (tag == l) {
                accept_ready(*l);
                return;
              }
            }
            auto* t = static_cast<EventTag*>(tag);
            if (t->side) {
              side_->on_event(t, events);
            } else {
              on_event(static_cast<Conn*>(t), events);
            }
          },
          [this] { on_wake(); });
      release_woken();
      if (side_) {
        side_->expire(now_);
        release_woken();
      }
      expire();
      idle_published_.store(idle_.size, std::memory_order_relaxed);
    } catch (const std::exception& ex) {  // out of memory, most likely: keep serving the others
      e_.logger_.log(core::LogLevel::Error, "event loop", {{"error_type", "engine"}, {"error", ex.what()}});
    }
    closed_.clear();  // no event of this turn refers to them any more
  }
}

void Engine::Loop::on_wake() {
  if (notify_asked_.exchange(false, std::memory_order_relaxed)) {
    std::vector<Conn*> open;
    for (const auto& c : conns_) {
      if (c->streaming) open.push_back(c.get());
    }
    for (Conn* c : open) {
      if (!c->closed) notify(c);
    }
  }
  if (drain_requested_.load() && !draining_) begin_drain();
  if (evictions_asked_.exchange(false, std::memory_order_relaxed)) make_room_for_others();
}

void Engine::Loop::begin_drain() {
  draining_ = true;
  watch_listener(false);
  // Idle connections and requests not yet complete close now; answers being
  // written or held back are finished first (and say Connection: close, or
  // GOAWAY), and long-lived ones end.
  std::vector<Conn*> all;
  all.reserve(conns_.size());
  for (const auto& c : conns_) all.push_back(c.get());
  for (Conn* c : all) {
    if (c->closed) continue;
    drain(c);
  }
  {
    const std::lock_guard lock(e_.drain_mu_);
    ++e_.drained_;
  }
  e_.drain_cv_.notify_all();
}

void Engine::Loop::expire() {
  for (TimerList* l : {&idle_, &request_, &write_, &linger_}) {
    while (l->head != nullptr && l->head->deadline <= now_) close_conn(as_conn(l->head));
  }
  while (!holds_.empty() && holds_.begin()->first <= now_) {
    Conn* c = holds_.begin()->second;
    holds_.erase(holds_.begin());
    c->hold_armed = false;
    release(c);
  }
  if (!listening_ && !draining_ && now_ >= accept_paused_until_) watch_listener(true);
}

int Engine::Loop::next_timeout() const {
  auto next = SteadyClock::time_point::max();
  for (const TimerList* l : {&idle_, &request_, &write_, &linger_}) {
    if (l->head != nullptr) next = std::min(next, l->head->deadline);
  }
  if (!holds_.empty()) next = std::min(next, holds_.begin()->first);
  if (side_) next = std::min(next, side_->next_deadline());
  if (!listening_ && !draining_) next = std::min(next, accept_paused_until_);
  if (next == SteadyClock::time_point::max()) return -1;
  if (next <= now_) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now_).count() + 1;
  return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
}

Engine::Engine(HttpService& service, ConnectionStats& stats, const Logger& logger, EngineConfig config)
    : service_(service), stats_(stats), logger_(logger), config_(std::move(config)) {}

Engine::~Engine() {
  notifiable_.store(false, std::memory_order_release);
  join();
  loops_.clear();
}

Engine::Bound Engine::listen(const std::string& host, int port, ProtocolFactory protocol) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_address(host, port, ss, len)) return {NetError::AddressUnavailable, 0};
  core::Fd sock(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return {from_errno(errno), 0};
  const int fd = sock.get();
  const int one = 1;
  const int zero = 0;
  // SO_REUSEADDR, not SO_REUSEPORT: a second server on the port must fail.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // "::" is both
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    return {from_errno(errno), 0};
  }
  sockaddr_storage got{};
  socklen_t got_len = sizeof got;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len);
  const auto p = got.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&got)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&got)->sin_port;
  listeners_.push_back(
      std::make_unique<Listener>(Listener{std::move(sock), protocol ? std::move(protocol) : config_.protocol}));
  return {NetError::None, ntohs(p)};
}

void Engine::start(std::function<void()> stopped) {
  on_stopped_ = std::move(stopped);
  for (std::size_t i = 0; i < config_.loops; ++i) loops_.push_back(std::make_unique<Loop>(*this));
  running_ = loops_.size();
  started_ = true;
  notifiable_.store(true, std::memory_order_release);
  for (auto& loop : loops_) {
    threads_.push_back(worker_thread([this, l = loop.get()] {
      l->run();
      if (running_.fetch_sub(1) == 1 && on_stopped_) on_stopped_();
    }));
  }
}

std::int64_t Engine::drain() {
  for (auto& loop : loops_) loop->request_drain();
  {
    // A loop answers within one turn: its handlers never block.
    std::unique_lock lock(drain_mu_);
    drain_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return drained_ == loops_.size(); });
  }
  for (auto& l : listeners_) l->fd.reset();  // from now on new connections are refused
  return stats_.open.load();
}

void Engine::notify() {
  if (!notifiable_.load(std::memory_order_acquire)) return;  // no loop, so no stream to tell
  for (auto& loop : loops_) loop->request_notify();
}

std::int64_t Engine::open_connections() const {
  return stats_.open.load();
}

void Engine::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace devops::serve
