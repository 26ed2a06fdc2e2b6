#pragma once

// Calls to upstreams from an event loop, on the loop: each connection is a
// descriptor in the loop's Reactor, each call's deadline is the loop's, and
// no call has a thread. Names go to the Resolver's threads and come back
// through an eventfd. Connections are kept alive and reused per upstream
// (no pipelining); one reused connection that closes before its answer is
// tried again once on a new one. An answer is read by http1's bounded
// ResponseReader. One UpstreamClient per loop (a LoopSide).

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/fd.hpp"
#include "serve/net/loop_side.hpp"
#include "serve/upstream/resolver.hpp"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace devops::serve {

class Reactor;

// An upstream, as configured: http://HOST[:PORT][/PATH] or https://.
struct UpstreamTarget {
  std::string url;   // as given: the metrics' label and the answer's "url"
  std::string host;  // a name or a numeric address (without brackets)
  bool tls{false};   // https://: the server's certificate verified for `host`
  int port{80};
  std::string path{"/"};  // with the query
  std::string host_header;
};
// Parses an upstream's URL; an error says why (a scheme other than http://
// or https://, no host, a bad port).
std::variant<UpstreamTarget, std::string> parse_upstream(std::string_view url);

struct CallResult {
  int status{0};      // the upstream's HTTP status; 0: none came
  std::string body;   // its body, whole, when status is set and error empty
  std::string error;  // what went wrong: empty when an answer was read whole
  // The kind of failure, for the metrics' status label: "timeout",
  // "connect", "resolve", "tls", "too_large", "bad_answer", "closed", "busy".
  std::string_view failure{};
  std::chrono::nanoseconds took{0};
  std::uint64_t start_unix_ns{0};
  std::uint64_t end_unix_ns{0};
};

struct CallRequest {
  std::shared_ptr<const UpstreamTarget> target;
  std::string traceparent;  // sent on, when not empty
  std::string tracestate;
  int hops{1};  // the hop count this call carries (kHopsHeader)
  // https://: the PEM CAs to verify the server against; empty: the
  // system's (a scratch image has none).
  std::string cacert;
  std::chrono::milliseconds timeout{2000};
  std::size_t max_body{std::size_t{1024} * 1024};
};

// The request field that counts the calls a chain has made so far.
inline constexpr std::string_view kHopsHeader = "X-Devops-Info-Hops";

class UpstreamClient final : public LoopSide {
 public:
  static constexpr std::size_t kMaxCalls = 256;  // in flight on one loop
  static constexpr std::size_t kMaxIdlePerUpstream = 16;
  static constexpr auto kIdleFor = std::chrono::seconds(30);

  UpstreamClient(Reactor& reactor, Resolver& resolver, std::string user_agent);
  ~UpstreamClient() override;

  // This thread's loop's client; none off the loops.
  static UpstreamClient* here();
  // Calls that may start now.
  std::size_t room() const { return calls_.size() >= kMaxCalls ? 0 : kMaxCalls - calls_.size(); }
  // Starts a call; `done` is called once, on this loop, when it ends (at its
  // timeout at the latest), never from inside call().
  void call(CallRequest req, std::function<void(CallResult)> done);
  // Connections open now (busy and idle), for tests.
  std::size_t connections() const { return conns_.size(); }

  void started() override;
  void on_event(EventTag* tag, std::uint32_t events) override;
  Clock::time_point next_deadline() const override;
  void expire(Clock::time_point now) override;

 private:
  struct Call;
  struct Conn;
  struct Mail {
    std::mutex mu;
    std::vector<std::pair<std::uint64_t, Resolution>> answers;
    core::Fd event;
  };

  void begin(Call& c);
  void connect_next(Call& c);
  void send_request(Conn& k);
  void on_conn(Conn& k, std::uint32_t events);
  void read_answer(Conn& k);
  void on_mail();
  // The call ends with `r` (its connection pooled, closed or kept by then).
  void end(Call& c, CallResult r);
  // Ends `c` with an error; `status`: the upstream's, when its head came.
  void fail(Call& c, std::string_view kind, std::string why, int status = 0);
  // The connection's call failed before a byte of its answer: tried once more on a new one?
  bool retry(Conn& k);
  void close(Conn& k);
  void pool(Conn& k);
  void watch(Conn& k, std::uint32_t events);
  // https://: TLS on a connected socket, then the request.
  void start_tls(Conn& k);
  void handshake(Conn& k);
  // The TLS context for `cacert` ("" for the system's CAs), made on first
  // use; none (with `why`) when the CA file cannot be read.
  SSL_CTX* tls_context(const std::string& cacert, std::string& why);
  // The socket's bytes, through TLS when there is: > 0 bytes, 0 at the
  // end of the stream, -1 with errno EAGAIN (watch `wants`) or an error.
  ssize_t io_send(Conn& k, const char* data, std::size_t size, std::uint32_t& wants);
  ssize_t io_recv(Conn& k, char* data, std::size_t size, std::uint32_t& wants);

  Reactor& reactor_;
  Resolver& resolver_;
  std::string user_agent_;
  std::shared_ptr<Mail> mail_;
  EventTag mail_tag_{true};
  std::uint64_t next_id_{1};
  std::map<std::uint64_t, std::unique_ptr<Call>> calls_;
  std::multimap<Clock::time_point, std::uint64_t> deadlines_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::map<std::string, std::vector<Conn*>> idle_;           // per "host port", the most recent last
  std::vector<std::pair<std::uint64_t, CallResult>> ended_;  // told to their callers after the event
  std::map<std::string, SSL_CTX*> tls_contexts_;             // per CA file, this loop's
  void tell_ended();
};

}  // namespace devops::serve
