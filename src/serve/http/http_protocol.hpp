#pragma once

// HTTP/1.1 on one connection, without sockets ("sans-I/O"): bytes go in,
// complete requests go to an HttpApplication, answers come out as bytes, and
// the connection says when it must close. The event loop around it only moves
// bytes and keeps time, so every framing rule is a unit test on a string.
//
// Heads are checked line by line here (line lengths, field count, obs-fold),
// then parsed by Boost.Beast's request parser, which is strict about the rest
// of RFC 9112's framing (Content-Length, Transfer-Encoding, chunked bodies).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "serve/http/http_types.hpp"

namespace devops::serve {

struct HttpLimits {
  std::size_t max_line{std::size_t{8} * 1024};       // request line (414), each header line (431)
  std::size_t max_fields{100};                       // header fields (431)
  std::size_t max_head{std::size_t{64} * 1024};      // the whole head (431)
  std::uint64_t max_body{std::uint64_t{64} * 1024};  // read and discarded; larger: 413 and close
  std::size_t max_requests{1000};                    // per connection; the last answer says close
  std::size_t max_output{std::size_t{256} * 1024};   // answers queued before reading pauses
};

using SteadyClock = std::chrono::steady_clock;

// A complete request, as handed to the application. The views live until
// the application's complete() for it has returned.
struct ParsedRequest {
  std::string_view method;
  std::string_view target;      // as sent
  std::string_view path;        // percent-decoded, without the query
  std::string_view user_agent;  // empty when absent
  std::string_view accept;      // every Accept field, joined; empty when absent
  int version{11};              // 10 or 11
  SteadyClock::time_point start{};
  bool counted{false};  // set by the application: counted as in progress
};

class HttpApplication {
 public:
  virtual ~HttpApplication() = default;
  // Answers a complete request.
  virtual HttpResponse handle(ParsedRequest& req) = 0;
  // Answers a request the protocol refused (400, 413, 414, 431, 501, 505);
  // method and path are empty when they could not be read.
  virtual HttpResponse reject(int status, ParsedRequest& req) = 0;
  // The answer to `req` is queued with `status`: log and count it.
  virtual void complete(const ParsedRequest& req, int status) = 0;
  // Shutdown has begun: every answer closes its connection.
  virtual bool draining() const = 0;
  // The value of the Date header, now.
  virtual std::string_view date() = 0;
};

class HttpProtocol {
 public:
  // `limits` is kept by reference: it must outlive the protocol.
  explicit HttpProtocol(const HttpLimits& limits);
  explicit HttpProtocol(const HttpLimits&& limits) = delete;
  ~HttpProtocol();
  HttpProtocol(const HttpProtocol&) = delete;
  HttpProtocol& operator=(const HttpProtocol&) = delete;

  // Takes bytes read from the peer; answers are appended to `out`. What cannot
  // be used yet (a partial head, requests behind a held answer or a full
  // `out`) is kept, within the limits.
  void receive(std::string_view data, std::string& out, HttpApplication& app, SteadyClock::time_point now);
  // Goes on with kept input after `out` was written or a held answer sent.
  void resume(std::string& out, HttpApplication& app, SteadyClock::time_point now);
  // An answer is held back (HttpResponse::delay) until release_at().
  bool holding() const { return held_ != nullptr; }
  SteadyClock::time_point release_at() const;
  // The request whose answer is held (only while holding()).
  const ParsedRequest& held_request() const;
  // Sends the held answer (at or after release_at()) and goes on with kept input.
  void release(std::string& out, HttpApplication& app, SteadyClock::time_point now);

  // Part of a request has arrived (a head or body), and its answer has not.
  bool mid_request() const { return state_ == State::Head || state_ == State::Body; }
  // Nothing kept, nothing held: between requests.
  bool idle() const { return state_ == State::Idle && pending_.empty() && held_ == nullptr; }
  // After what is in `out` has been written the connection must close.
  bool closing() const { return state_ == State::Closed; }
  // More input is wanted (not closing, not holding, output below its limit).
  bool wants_input(std::size_t queued_output) const;
  // Input was left unread when the protocol decided to close (linger before closing).
  bool unread_input() const { return unread_; }
  // When the request now arriving started (its first byte), for deadlines.
  SteadyClock::time_point request_started() const { return request_start_; }

 private:
  enum class State { Idle, Head, Body, Closed };
  struct Parser;
  struct Held;

  // Works through `buf` from `pos`; returns how far it got.
  std::size_t process(std::string_view buf, std::string& out, HttpApplication& app, SteadyClock::time_point now);
  // Checks the head at the start of `buf`: its length once complete, 0 when
  // more is needed, or sets an error status.
  std::size_t scan_head(std::string_view buf, int& status);
  std::size_t parse_head(std::string_view buf, std::size_t head_len, std::string& out, HttpApplication& app,
                         SteadyClock::time_point now);
  std::size_t feed_body(std::string_view buf, std::string& out, HttpApplication& app, SteadyClock::time_point now);
  void dispatch(std::string& out, HttpApplication& app, SteadyClock::time_point now);
  void answer(const ParsedRequest& req, HttpResponse&& resp, bool close, std::string& out, HttpApplication& app);
  void fail(int status, std::string& out, HttpApplication& app, SteadyClock::time_point now);

  const HttpLimits& limits_;
  State state_{State::Idle};
  std::string pending_;      // input not yet used
  std::size_t scanned_{0};   // complete head lines checked so far (bytes of pending_)
  std::size_t fields_{0};    // header fields seen so far
  std::size_t requests_{0};  // requests answered on this connection
  bool unread_{false};
  SteadyClock::time_point request_start_{};
  std::unique_ptr<Parser> parser_;  // while a head is parsed or a body read
  std::unique_ptr<Held> held_;
};

// Appends a complete HTTP/1.1 answer.
// The Connection header an answer carries: none (HTTP/1.1 keep-alive),
// keep-alive (an HTTP/1.0 client that keeps the connection), or close.
enum class ConnectionHeader { None, KeepAlive, Close };
// HEAD: the head only, with the body's Content-Length.
enum class AnswerBody { Send, Omit };
void append_response(std::string& out, const HttpResponse& resp, std::string_view date, ConnectionHeader connection,
                     AnswerBody body);

// "/a%20b?x=1" -> "/a b"; false for a bad escape, a NUL, or a target that is
// neither a path, "*" nor an absolute URL.
bool decode_target_path(std::string_view target, std::string& path);

}  // namespace devops::serve
