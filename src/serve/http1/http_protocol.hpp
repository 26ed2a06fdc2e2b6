#pragma once

// HTTP/1.1 on one connection, without sockets ("sans-I/O"): bytes go in,
// each complete request goes to the HttpService as one Exchange, answers
// come out as bytes, and the connection says when it must close. The event
// loop around it only moves bytes and keeps time (injected as HttpNow), so
// every framing rule is a unit test on a string.
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

#include "serve/http/conn_protocol.hpp"
#include "serve/http/http_service.hpp"
#include "serve/http/http_types.hpp"
#include "serve/http/kept_body.hpp"

namespace devops::serve {

class HttpProtocol final : public ConnProtocol {
 public:
  // `limits` and `service` are kept by reference: they must outlive the
  // protocol. `peer`: the client's address, as the service sees it.
  HttpProtocol(const HttpLimits& limits, HttpService& service, std::string peer);
  HttpProtocol(const HttpLimits&& limits, HttpService& service, std::string peer) = delete;
  ~HttpProtocol() override;
  HttpProtocol(const HttpProtocol&) = delete;
  HttpProtocol& operator=(const HttpProtocol&) = delete;

  // Takes bytes read from the peer; answers are appended to `out`. What cannot
  // be used yet (a partial head, requests behind a held answer or a full
  // `out`) is kept, within the limits.
  void receive(std::string_view data, std::string& out, const HttpNow& now) override;
  // Goes on with kept input after all output was written.
  void resume(std::string& out, const HttpNow& now) override;
  // An answer is held back (HttpResponse::delay) until release_at().
  bool holding() const { return held_ != nullptr; }
  SteadyClock::time_point release_at() const;
  // Sends the held answer (at or after release_at()) and goes on with kept input.
  void release(std::string& out, const HttpNow& now) override;
  // Answers in flight say Connection: close; anything else closes now.
  bool drain(std::string& out, const HttpNow& now) override;
  void notify(std::string&, const HttpNow&) override {}
  ProtoState state(std::size_t queued_output) const override;

  // A request asked to switch to HTTP/2 (RFC 7540 3.2: Upgrade: h2c with
  // HTTP2-Settings, and no body), and `101 Switching Protocols` is in `out`:
  // nothing more is read here. What the new protocol needs is taken once.
  struct Upgrade {
    std::string settings;  // HTTP2-Settings, base64url-decoded
    std::string method, target, path, user_agent, accept;
    std::string rest;  // bytes read after the request: the HTTP/2 preface, SETTINGS, ...
  };
  bool upgraded() const { return state_ == State::Upgraded; }
  Upgrade take_upgrade();
  // Recognise Upgrade: h2c (off by default: only the protocol that can become HTTP/2 asks for it).
  void offer_h2c(bool on) { offer_h2c_ = on; }

  // Part of a request has arrived (a head or body), and its answer has not.
  bool mid_request() const { return state_ == State::Head || state_ == State::Body; }
  // Nothing kept, nothing held: between requests.
  bool idle() const { return state_ == State::Idle && pending_.empty() && held_ == nullptr; }
  // After what is in `out` has been written the connection must close.
  bool closing() const { return state_ == State::Closed; }
  // Nothing more is read: closed, or switched to HTTP/2.
  bool done() const { return state_ == State::Closed || state_ == State::Upgraded; }
  // More input is wanted (not closing, not holding, output below its limit).
  bool wants_input(std::size_t queued_output) const;
  // Input was left unread when the protocol decided to close (linger before closing).
  bool unread_input() const { return unread_; }
  // When the request now arriving started (its first byte), for deadlines.
  SteadyClock::time_point request_started() const { return request_start_; }

 private:
  enum class State { Idle, Head, Body, Closed, Upgraded };
  struct Parser;
  struct Held;

  // Goes on with kept input.
  void go_on(std::string& out, const HttpNow& now);
  // Works through `buf` from `pos`; returns how far it got.
  std::size_t process(std::string_view buf, std::string& out, const HttpNow& now);
  // Checks the head at the start of `buf`: its length once complete, 0 when
  // more is needed, or sets an error status.
  std::size_t scan_head(std::string_view buf, int& status);
  std::size_t parse_head(std::string_view buf, std::size_t head_len, std::string& out, const HttpNow& now);
  // A complete request without a body that asks for h2c: switches (true), or not.
  bool try_upgrade(std::string& out);
  std::size_t feed_body(std::string_view buf, std::string& out, const HttpNow& now);
  void dispatch(std::string& out, const HttpNow& now);
  // Appends the answer to `req`, which `parser` read, and finishes its exchange.
  void answer(Parser& parser, const HttpRequest& req, Exchange& ex, const HttpResponse& resp, bool close,
              std::string& out, const HttpNow& now);
  void fail(int status, std::string& out, const HttpNow& now);

  const HttpLimits& limits_;
  HttpService& service_;
  std::string peer_;
  State state_{State::Idle};
  std::string pending_;      // input not yet used
  std::size_t scanned_{0};   // complete head lines checked so far (bytes of pending_)
  std::size_t fields_{0};    // header fields seen so far
  std::size_t requests_{0};  // requests answered on this connection
  bool unread_{false};
  SteadyClock::time_point request_start_{};
  std::unique_ptr<Parser> parser_;  // while a head is parsed or a body read
  std::unique_ptr<Held> held_;
  std::unique_ptr<Upgrade> upgrade_;
  bool offer_h2c_{false};
  // Kept bodies answered and their answers, counted against the process's
  // budget until the engine resumes (all output written).
  KeptBody unsent_;
};

// Appends a complete HTTP/1.1 answer.
// The Connection header an answer carries: none (HTTP/1.1 keep-alive),
// keep-alive (an HTTP/1.0 client that keeps the connection), or close.
enum class ConnectionHeader { None, KeepAlive, Close };
// HEAD: the head only, with the body's Content-Length.
enum class AnswerBody { Send, Omit };
void append_response(std::string& out, const HttpResponse& resp, std::string_view date, ConnectionHeader connection,
                     AnswerBody body);

// Base64url (RFC 4648 5) without padding, as HTTP2-Settings carries it; false if malformed.
bool decode_base64url(std::string_view in, std::string& out);

}  // namespace devops::serve
