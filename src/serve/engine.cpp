#include "serve/engine.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <exception>
#include <map>
#include <system_error>

#include "core/fd.hpp"
#include "serve/log.hpp"
#include "serve/metrics.hpp"
#include "serve/service.hpp"
#include "serve/worker_thread.hpp"

namespace devops::serve {

namespace {

constexpr int kMaxEvents = 256;
constexpr std::size_t kReadBuffer = std::size_t{64} * 1024;
constexpr int kAcceptBatch = 64;
constexpr int kSettleRounds = 64;  // write/resume rounds per event, then back to epoll
constexpr std::size_t kKeepOutputCapacity =
    std::size_t{16} * 1024;  // a connection's output buffer beyond this is freed
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr std::int64_t kTrimAbove = 512;  // give memory back once a crowd of this size has left
// A request still arriving after this long may be closed to admit a new
// connection at the limit; a younger one is a client at work.
constexpr auto kEvictRequestsOlderThan = std::chrono::seconds(1);
constexpr auto kIdleAMoment = std::chrono::milliseconds(100);
constexpr int kEvictLookAhead = 8;  // idle connections looked at for one without a request waiting

// epoll_event.data.ptr for what is not a connection.
char g_listen_tag;
char g_wake_tag;

// "Sun, 29 Nov 2026 20:13:28 GMT" (RFC 9110 IMF-fixdate), without the locale.
void format_http_date(std::time_t t, std::array<char, 32>& buf) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::snprintf(buf.data(), buf.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

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

struct Conn;

// Connections in order of their deadlines. Every deadline in one list is
// "now + the same span" when it is set, so appending keeps the order.
struct TimerList {
  Conn* head{nullptr};
  Conn* tail{nullptr};
  std::size_t size{0};
};

struct Conn {
  Conn(core::Fd f, const HttpLimits& limits, std::string ip)
      : fd(std::move(f)), proto(limits), client_ip(std::move(ip)) {}
  core::Fd fd;
  HttpProtocol proto;
  std::string client_ip;
  std::string out;  // answers the socket has not taken yet
  std::size_t out_pos{0};
  TimerList* list{nullptr};
  Conn* prev{nullptr};
  Conn* next{nullptr};
  SteadyClock::time_point deadline{};
  std::multimap<SteadyClock::time_point, Conn*>::iterator hold;
  bool hold_armed{false};
  std::size_t index{0};  // in Loop::conns_
  std::uint32_t events{0};
  bool eof{false};
  bool lingering{false};
};

void unlink(Conn* c) {
  if (c->list == nullptr) return;
  auto& l = *c->list;
  (c->prev != nullptr ? c->prev->next : l.head) = c->next;
  (c->next != nullptr ? c->next->prev : l.tail) = c->prev;
  --l.size;
  c->prev = c->next = nullptr;
  c->list = nullptr;
}

void append(TimerList& l, Conn* c, SteadyClock::time_point deadline) {
  unlink(c);
  c->deadline = deadline;
  c->list = &l;
  c->prev = l.tail;
  (l.tail != nullptr ? l.tail->next : l.head) = c;
  l.tail = c;
  ++l.size;
}

}  // namespace

class Engine::Loop final : public HttpApplication {
 public:
  explicit Loop(Engine& engine) : e_(engine), cfg_(engine.config_) {
    // A throw below closes what was opened: the members are descriptors.
    ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
    wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!ep_.valid() || !wake_.valid()) throw std::system_error(errno, std::system_category(), "epoll");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = &g_wake_tag;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
      throw std::system_error(errno, std::system_category());
    watch_listener(true);
  }
  ~Loop() override {
    while (!conns_.empty()) close_conn(conns_.back().get());
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void run();
  void request_drain() {
    drain_requested_.store(true);
    wake();
  }
  // From another loop: close idle connections here, to make room there.
  void request_room() {
    if (!evictions_asked_.exchange(true, std::memory_order_relaxed)) wake();
  }

 private:
  // HttpApplication: the Service answers, on this loop.
  HttpResponse handle(ParsedRequest& req) override {
    req.start = SteadyClock::now();
    req.counted = e_.service_.started(req.path);
    return e_.service_.handle(to_http(req));
  }
  HttpResponse reject(int status, ParsedRequest& req) override { return e_.service_.error(status, req.path); }
  void complete(const ParsedRequest& req, int status) override {
    e_.service_.finished(to_http(req), status, SteadyClock::now() - req.start, req.counted);
  }
  bool draining() const override { return e_.service_.draining(); }
  std::string_view date() override {
    const std::time_t t = ::time(nullptr);
    if (t != date_second_) {
      format_http_date(t, date_);
      date_second_ = t;
    }
    return date_.data();
  }

  HttpRequest to_http(const ParsedRequest& r) const {
    const auto q = r.target.find('?');
    const auto query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
    return {r.method, r.path, current_->client_ip, r.user_agent, query, r.accept};
  }

  void wake() { core::notify(wake_.get()); }
  void watch_listener(bool on);
  // Handles what one epoll_wait returned, then the timers.
  void turn(const epoll_event* events, int n);
  void accept_ready();
  // Closes this loop's idlest connection to make room, if it has been idle
  // that long; false if none may go.
  bool evict_one(SteadyClock::duration idle_at_least);
  // At --max-connections: closes a connection or has another loop do it;
  // false if the new one must be turned away.
  bool make_room(std::int64_t open);
  void make_room_for_others();
  // False if no other loop has an idle connection.
  bool ask_another_loop_to_make_room();
  void on_event(Conn* c, std::uint32_t events);
  void on_readable(Conn* c);
  // Runs `step` with the buffer answers go to, then settle().
  template <typename Step>
  void produce(Conn* c, Step&& step);
  // Writes `out` from `pos`, lets the protocol go on with kept input while the
  // socket takes it, then sets the connection's interest and deadline.
  void settle(Conn* c, std::string& out, std::size_t& pos);
  bool send_out(Conn* c, std::string& out, std::size_t& pos);
  void linger(Conn* c);
  void close_conn(Conn* c);
  void begin_drain();
  void expire();
  int next_timeout() const;

  Engine& e_;
  const EngineConfig& cfg_;
  core::Fd ep_;
  core::Fd wake_;
  core::Fd reserve_;  // given up for a moment to accept and close a client when out of descriptors
  bool listening_{false};
  SteadyClock::time_point accept_paused_until_{};
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> evictions_asked_{false};
  std::atomic<std::size_t> idle_published_{0};  // idle_.size as of the last turn, for the other loops
  bool draining_{false};
  SteadyClock::time_point now_{SteadyClock::now()};
  Conn* current_{nullptr};
  std::vector<std::unique_ptr<Conn>> conns_;
  std::int64_t high_water_{0};
  TimerList idle_;
  TimerList request_;
  TimerList write_;
  TimerList linger_;
  std::multimap<SteadyClock::time_point, Conn*> holds_;
  std::string scratch_;  // answers are built here; only what the socket does not take is kept
  std::array<char, kReadBuffer> read_buf_{};
  std::time_t date_second_{-1};
  std::array<char, 32> date_{};
};

void Engine::Loop::watch_listener(bool on) {
  if (on == listening_ || !e_.listen_fd_.valid()) return;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one loop wakes per new connection
  ev.data.ptr = &g_listen_tag;
  if (::epoll_ctl(ep_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, e_.listen_fd_.get(), &ev) == 0) listening_ = on;
}

void Engine::Loop::run() {
  std::array<epoll_event, kMaxEvents> events{};
  while (!(draining_ && conns_.empty())) {
    const int n = ::epoll_wait(ep_.get(), events.data(), kMaxEvents, next_timeout());
    now_ = SteadyClock::now();
    try {
      turn(events.data(), n);
    } catch (const std::exception& ex) {  // out of memory, most likely: keep serving the others
      e_.logger_.log(core::LogLevel::Error, "event loop", {{"error_type", "engine"}, {"error", ex.what()}});
    }
  }
}

void Engine::Loop::turn(const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) {
    void* tag = events[i].data.ptr;
    if (tag == &g_listen_tag) {
      accept_ready();
    } else if (tag == &g_wake_tag) {
      std::uint64_t v = 0;
      (void)!::read(wake_.get(), &v, sizeof v);
      if (drain_requested_.load() && !draining_) begin_drain();
      if (evictions_asked_.exchange(false, std::memory_order_relaxed)) make_room_for_others();
    } else {
      on_event(static_cast<Conn*>(tag), events[i].events);
    }
  }
  expire();
  idle_published_.store(idle_.size, std::memory_order_relaxed);
}

void Engine::Loop::accept_ready() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    core::Fd fd(::accept4(e_.listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && reserve_.valid()) {
        // Out of descriptors: free the spare one to take the client off the
        // queue and close it, rather than leave it waiting.
        reserve_.reset();
        core::Fd(::accept4(e_.listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)).reset();
        reserve_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        e_.metrics_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
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
    const auto open = e_.metrics_.connections_open.fetch_add(1, std::memory_order_relaxed);
    const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
    if (open >= limit && !make_room(open)) {
      e_.metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
      e_.metrics_.connections_rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Conn>(std::move(fd), cfg_.limits, peer_address(ss));
    Conn* c = conn.get();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) {
      e_.metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    c->events = EPOLLIN;
    c->index = conns_.size();
    conns_.push_back(std::move(conn));
    high_water_ = std::max(high_water_, static_cast<std::int64_t>(conns_.size()));
    append(idle_, c, now_ + cfg_.idle_timeout);
  }
}

bool Engine::Loop::evict_one(SteadyClock::duration idle_at_least) {
  // At the limit, as nginx does, the connections that cost a new client its
  // place are closed first: idle ones (no byte yet, or between requests),
  // the longest idle first; then a request still arriving that began long
  // ago (a trickled head). An answer being written or held is never cut.
  // One whose request is waiting unread in the socket is not idle: the loop
  // just has not come to it yet.
  Conn* victim = idle_.head;
  for (int looked = 0; victim != nullptr && looked < kEvictLookAhead; ++looked, victim = victim->next) {
    char byte = 0;
    if (::recv(victim->fd.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) break;
  }
  if (victim != nullptr && victim->deadline - cfg_.idle_timeout > now_ - idle_at_least) victim = nullptr;
  if (victim == nullptr && request_.head != nullptr &&
      now_ - request_.head->proto.request_started() >= kEvictRequestsOlderThan) {
    victim = request_.head;
  }
  if (victim == nullptr) return false;
  close_conn(victim);
  e_.metrics_.connections_evicted.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool Engine::Loop::make_room(std::int64_t open) {
  // A connection idle for a moment only (a client yet to send its request,
  // most likely) is spared while another loop may have idle ones: that loop
  // is asked to close its idlest, and the new connection is admitted over
  // the limit meanwhile, by a few at most.
  if (evict_one(kIdleAMoment)) return true;
  const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
  if (open < limit + static_cast<std::int64_t>(kConnectionsOverLimit) && ask_another_loop_to_make_room()) return true;
  return evict_one(SteadyClock::duration::zero());
}

void Engine::Loop::make_room_for_others() {
  // Back down to the limit: the longest idle first, as at accept.
  const auto limit = static_cast<std::int64_t>(cfg_.max_connections);
  while (e_.metrics_.connections_open.load(std::memory_order_relaxed) > limit &&
         (evict_one(kIdleAMoment) || evict_one(SteadyClock::duration::zero()))) {
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

void Engine::Loop::on_event(Conn* c, std::uint32_t events) {
  current_ = c;
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
      c->proto.receive({read_buf_.data(), static_cast<std::size_t>(n)}, out, *this, now_);
    }
  });
}

template <typename Step>
void Engine::Loop::produce(Conn* c, Step&& step) {
  // Answers go to the loop's scratch buffer when nothing is queued (the usual
  // case); settle() keeps only what the socket does not take.
  const bool own = c->out.empty();
  std::string& out = own ? scratch_ : c->out;
  std::size_t scratch_pos = 0;
  if (own) scratch_.clear();
  step(out);
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
    if (!out.empty() || c->proto.holding() || c->proto.closing()) break;
    c->proto.resume(out, *this, now_);
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
  const bool pending = !c->out.empty();
  if (!pending) {
    if (c->proto.closing()) {
      if (c->proto.unread_input() && !c->eof) {
        linger(c);
      } else {
        close_conn(c);
      }
      return;
    }
    if ((c->eof && !c->proto.holding()) || (draining_ && c->proto.idle())) {
      close_conn(c);
      return;
    }
  }
  std::uint32_t want = 0;
  if (pending) want |= EPOLLOUT;
  if (!c->eof && c->proto.wants_input(c->out.size())) want |= EPOLLIN;
  if (want != c->events) {
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = c;
    ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
    c->events = want;
  }
  if (pending) {
    // 5 s from when the client last took everything queued for it.
    if (c->list != &write_ || flushed) append(write_, c, now_ + cfg_.write_timeout);
  } else if (c->proto.holding()) {
    unlink(c);
    if (!c->hold_armed) {
      c->hold = holds_.emplace(c->proto.release_at(), c);
      c->hold_armed = true;
    }
  } else if (c->proto.mid_request()) {
    // The deadline of the request now arriving (a new one after pipelined answers).
    const auto deadline = c->proto.request_started() + cfg_.request_timeout;
    if (c->list != &request_ || c->deadline != deadline) append(request_, c, deadline);
  } else {
    append(idle_, c, now_ + cfg_.idle_timeout);
  }
}

void Engine::Loop::linger(Conn* c) {
  ::shutdown(c->fd.get(), SHUT_WR);
  c->lingering = true;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = c;
  ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, c->fd.get(), &ev);
  c->events = EPOLLIN;
  append(linger_, c, now_ + cfg_.linger_timeout);
}

void Engine::Loop::close_conn(Conn* c) {
  if (c->hold_armed) holds_.erase(c->hold);
  // A held answer that will never be sent is no longer in progress.
  if (c->proto.holding() && c->proto.held_request().counted) e_.metrics_.finished();
  unlink(c);
  const std::unique_ptr<Conn> gone = std::move(conns_[c->index]);  // closes the socket at the end
  if (c->index + 1 != conns_.size()) {
    conns_[c->index] = std::move(conns_.back());
    conns_[c->index]->index = c->index;
  }
  conns_.pop_back();
  e_.metrics_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  if (high_water_ > kTrimAbove && static_cast<std::int64_t>(conns_.size()) < high_water_ / 8) {
    high_water_ = static_cast<std::int64_t>(conns_.size());
    ::malloc_trim(0);  // a crowd has left: give its memory back to the system
  }
}

void Engine::Loop::begin_drain() {
  draining_ = true;
  watch_listener(false);
  // Idle connections and requests not yet complete close now; answers being
  // written or held back are finished first (and say Connection: close).
  std::vector<Conn*> all;
  all.reserve(conns_.size());
  for (const auto& c : conns_) all.push_back(c.get());
  for (Conn* c : all) {
    if (c->out.empty() && !c->proto.holding()) close_conn(c);
  }
  {
    const std::lock_guard lock(e_.drain_mu_);
    ++e_.drained_;
  }
  e_.drain_cv_.notify_all();
}

void Engine::Loop::expire() {
  for (TimerList* l : {&idle_, &request_, &write_, &linger_}) {
    while (l->head != nullptr && l->head->deadline <= now_) close_conn(l->head);
  }
  while (!holds_.empty() && holds_.begin()->first <= now_) {
    Conn* c = holds_.begin()->second;
    holds_.erase(holds_.begin());
    c->hold_armed = false;
    current_ = c;
    produce(c, [&](std::string& out) { c->proto.release(out, *this, now_); });
  }
  if (!listening_ && !draining_ && now_ >= accept_paused_until_) watch_listener(true);
}

int Engine::Loop::next_timeout() const {
  auto next = SteadyClock::time_point::max();
  for (const TimerList* l : {&idle_, &request_, &write_, &linger_}) {
    if (l->head != nullptr) next = std::min(next, l->head->deadline);
  }
  if (!holds_.empty()) next = std::min(next, holds_.begin()->first);
  if (!listening_ && !draining_) next = std::min(next, accept_paused_until_);
  if (next == SteadyClock::time_point::max()) return -1;
  if (next <= now_) return 0;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now_).count() + 1;
  return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
}

Engine::Engine(Service& service, Metrics& metrics, const Logger& logger, EngineConfig config)
    : service_(service), metrics_(metrics), logger_(logger), config_(config) {}

Engine::~Engine() {
  join();
  loops_.clear();
}

Engine::Bound Engine::listen(const std::string& host, int port) {
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
  listen_fd_ = std::move(sock);
  return {NetError::None, ntohs(p)};
}

void Engine::start(std::function<void()> stopped) {
  on_stopped_ = std::move(stopped);
  for (std::size_t i = 0; i < config_.loops; ++i) loops_.push_back(std::make_unique<Loop>(*this));
  running_ = loops_.size();
  started_ = true;
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
  listen_fd_.reset();  // from now on new connections are refused
  return metrics_.connections_open.load();
}

std::int64_t Engine::open_connections() const {
  return metrics_.connections_open.load();
}

void Engine::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace devops::serve
