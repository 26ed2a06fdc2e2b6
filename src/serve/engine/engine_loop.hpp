#pragma once

// Inside the engine (engine.cpp, engine_accept.cpp, engine_io.cpp): one event
// loop and its connections. A Loop is a Reactor (epoll, its wake-up) with the
// connections it accepted and their deadlines as timer lists; each
// connection's protocol answers through the HttpService.

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"
#include "serve/engine/engine.hpp"
#include "serve/engine/next_step.hpp"
#include "serve/http/conn_protocol.hpp"
#include "serve/http/http_date.hpp"
#include "serve/net/reactor.hpp"
#include "serve/net/timer_list.hpp"

namespace devops::serve {

inline constexpr std::size_t kReadBuffer = std::size_t{64} * 1024;
inline constexpr int kAcceptBatch = 64;
inline constexpr int kSettleRounds = 64;  // write/resume rounds per event, then back to epoll
inline constexpr std::size_t kKeepOutputCapacity = std::size_t{16} * 1024;  // beyond it, an emptied buffer is freed
inline constexpr auto kAcceptPause = std::chrono::milliseconds(100);
inline constexpr std::int64_t kTrimAbove = 512;  // give memory back once a crowd of this size has left
// A request still arriving after this long may be closed to admit a new
// connection at the limit; a younger one is a client at work.
inline constexpr auto kEvictRequestsOlderThan = std::chrono::seconds(1);
inline constexpr auto kIdleAMoment = std::chrono::milliseconds(100);
inline constexpr int kEvictLookAhead = 8;  // idle connections looked at for one without a request waiting

// A connection's token for deferred answers (serve/http/deferred.hpp): the
// connection while it is open, null once it closed.
struct ConnToken {
  struct Conn* conn;
};

struct Conn : EventTag, TimerNode {
  Conn(core::Fd f, std::unique_ptr<ConnProtocol> p) : fd(std::move(f)), proto(std::move(p)) {}
  core::Fd fd;
  std::unique_ptr<ConnProtocol> proto;  // its peer's address, and held answers' exchanges
  std::string out;                      // answers the socket has not taken yet
  std::size_t out_pos{0};
  std::multimap<SteadyClock::time_point, Conn*>::iterator hold;
  bool hold_armed{false};
  std::size_t index{0};  // in Loop::conns_
  std::uint32_t events{0};
  bool eof{false};
  bool lingering{false};
  bool closed{false};                // by close_conn(); freed at the end of the turn
  bool streaming{false};             // a long-lived answer is open: told of the service's changes
  std::shared_ptr<ConnToken> token;  // made when a deferred answer first asks
};

inline Conn* as_conn(TimerNode* n) {
  return static_cast<Conn*>(n);
}
// The tag a connection's descriptor carries in the reactor.
inline void* tag_of(Conn* c) {
  return static_cast<EventTag*>(c);
}

class Engine::Loop final {
 public:
  explicit Loop(Engine& engine);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  void run();
  // A deferred answer of the connection is ready (on this loop's thread).
  void woken(const std::shared_ptr<ConnToken>& token) { woken_.push_back(token); }
  void request_drain() {
    drain_requested_.store(true);
    reactor_.wake();
  }
  // From another thread: the service changed; open streams are told.
  void request_notify() {
    if (!notify_asked_.exchange(true, std::memory_order_relaxed)) reactor_.wake();
  }
  // From another loop: close idle connections here, to make room there.
  void request_room() {
    if (!evictions_asked_.exchange(true, std::memory_order_relaxed)) reactor_.wake();
  }

 private:
  // The time the protocol is handed: this turn's, and the Date header's value.
  HttpNow moment() { return {now_, date_.now()}; }

  void watch_listener(bool on);
  // Another thread asked for a drain or for room.
  void on_wake();
  void accept_ready(const Listener& l);
  // What may be closed to make room, found in one walk: `first`, an idle
  // connection (idle for over a moment) or a head trickling for over a
  // second; `young`, an idle one that is not, closed only when nothing else
  // can make room. Either may be null.
  struct Victims {
    Conn* first{nullptr};
    Conn* young{nullptr};
  };
  Victims victims();
  void evict(Conn* c);
  // At --max-connections: closes a connection or has another loop do it;
  // false if the new one must be turned away.
  bool make_room(std::int64_t open);
  void make_room_for_others();
  // False if no other loop has an idle connection.
  bool ask_another_loop_to_make_room();
  void on_event(Conn* c, std::uint32_t events);
  void on_readable(Conn* c);
  // Sends a held answer whose time has come.
  void release(Conn* c);
  // Sends the deferred answers that became ready.
  void release_woken();
  // The service changed: the connection's open streams say what they say now.
  void notify(Conn* c);
  // The drain reaches the connection: it closes, or finishes what is in flight.
  void drain(Conn* c);
  // Runs `fill` with the buffer answers go to, then settle().
  template <typename Fill>
  void produce(Conn* c, Fill&& fill);
  // Writes `out` from `pos`, lets the protocol go on with kept input while the
  // socket takes it, then sets the connection's interest and deadline.
  void settle(Conn* c, std::string& out, std::size_t& pos);
  bool send_out(Conn* c, std::string& out, std::size_t& pos);
  // Carries out what next_step() decided.
  void apply(Conn* c, const Step& step);
  void close_conn(Conn* c);
  void begin_drain();
  void expire();
  int next_timeout() const;

  Engine& e_;
  const EngineConfig& cfg_;
  Reactor reactor_;
  // The engine's, which it closes only once every loop has begun its drain;
  // each is its own tag in the reactor.
  std::vector<const Listener*> listeners_;
  core::Fd reserve_;  // given up for a moment to accept and close a client when out of descriptors
  bool listening_{false};
  SteadyClock::time_point accept_paused_until_{};
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> evictions_asked_{false};
  std::atomic<bool> notify_asked_{false};
  std::atomic<std::size_t> idle_published_{0};  // idle_.size as of the last turn, for the other loops
  bool draining_{false};
  SteadyClock::time_point now_{SteadyClock::now()};
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<std::unique_ptr<Conn>> closed_;  // this turn's, kept until its events are handled
  std::int64_t high_water_{0};
  TimerList idle_;
  TimerList request_;
  TimerList write_;
  TimerList linger_;
  std::multimap<SteadyClock::time_point, Conn*> holds_;
  std::vector<std::shared_ptr<ConnToken>> woken_;
  std::unique_ptr<LoopSide> side_;
  std::string scratch_;  // answers are built here; only what the socket does not take is kept
  std::array<char, kReadBuffer> read_buf_{};
  HttpDate date_;
};

}  // namespace devops::serve
