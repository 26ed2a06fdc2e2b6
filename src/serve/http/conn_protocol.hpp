#pragma once

// What the engine sees of a connection's protocol (HTTP/1.1, HTTP/2, or the
// one that picks between them): bytes in, bytes out, and one snapshot of
// its state from which next_step() decides what the connection waits for.
// The engine knows no more of HTTP than this.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace devops::serve {

using SteadyClock = std::chrono::steady_clock;

struct HttpLimits {
  std::size_t max_line{std::size_t{8} * 1024};       // request line (414), each header line (431)
  std::size_t max_fields{100};                       // header fields (431)
  std::size_t max_head{std::size_t{64} * 1024};      // the whole head (431)
  std::uint64_t max_body{std::uint64_t{64} * 1024};  // read and discarded; larger: 413 and close
  // The bodies kept for routes that take them (HttpService::needs), all
  // requests of the process together; past it: 503.
  std::uint64_t max_kept_bodies{std::uint64_t{16} * 1024 * 1024};
  std::size_t max_requests{1000};                   // per connection; the last answer says close
  std::size_t max_output{std::size_t{256} * 1024};  // answers queued before reading pauses
  std::size_t max_streams{100};                     // HTTP/2: concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS)
  std::size_t max_watches{1000};  // HTTP/2: calls left open (gRPC Watch) in the whole process; more: RESOURCE_EXHAUSTED
};

// The time, as the event loop read it once for the events it is handling:
// for deadlines, and the Date header's value. Injected, so that tests fix it.
struct HttpNow {
  SteadyClock::time_point steady;
  std::string_view date;  // "Sun, 29 Nov 2026 20:13:28 GMT"
};

// A protocol's state after an event, as next_step() needs it.
struct ProtoState {
  bool closing{false};       // after what is queued, close
  bool unread_input{false};  // input was left unread when it decided to close (linger first)
  bool holding{false};       // an answer is held back until release_at
  bool idle{false};          // nothing kept, held or open: between requests
  bool wants_input{false};   // it would take more bytes now
  bool mid_request{false};   // a request has begun arriving, since request_started
  bool streaming{false};     // a long-lived answer (a gRPC Watch) is open: no idle deadline
  bool stalled{false};       // answers wait for the peer's flow-control window: the write deadline runs
  SteadyClock::time_point request_started{};
  SteadyClock::time_point release_at{};
};

class ConnProtocol {
 public:
  virtual ~ConnProtocol() = default;
  ConnProtocol(const ConnProtocol&) = delete;
  ConnProtocol& operator=(const ConnProtocol&) = delete;

  // Takes bytes read from the peer; what it sends is appended to `out`.
  virtual void receive(std::string_view data, std::string& out, const HttpNow& now) = 0;
  // Goes on with kept input after `out` was written.
  virtual void resume(std::string& out, const HttpNow& now) = 0;
  // Sends the held answers whose time (ProtoState::release_at) has come.
  virtual void release(std::string& out, const HttpNow& now) = 0;
  // The server drains: tells the peer (HTTP/2: GOAWAY) and ends long-lived
  // answers. True when the connection may be closed at once.
  virtual bool drain(std::string& out, const HttpNow& now) = 0;
  // HttpService::changes() moved: open streams say what they say now.
  virtual void notify(std::string& out, const HttpNow& now) = 0;
  // The state, with `queued_output` bytes not yet taken by the socket.
  virtual ProtoState state(std::size_t queued_output) const = 0;

 protected:
  ConnProtocol() = default;
};

}  // namespace devops::serve
