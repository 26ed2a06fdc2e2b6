#pragma once

// What the engine needs of the application behind its connections, and the
// exchange that carries one request from the application's first look at it
// to its answer being sent. The Service implements HttpService; the engine
// and the protocol know no more of it than this.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "serve/http/http_types.hpp"

namespace devops::serve {

class HttpService;

// The trace an exchange belongs to (W3C trace context, as bytes): the
// service sets it when the exchange begins and reads it for the log line,
// the span and the calls it makes.
struct ExchangeTrace {
  std::array<std::uint8_t, 16> trace{};
  std::array<std::uint8_t, 8> span{};
  std::array<std::uint8_t, 8> parent{};  // zeros: the trace began here
  bool sampled{false};
  std::uint64_t start_unix_ns{0};
};

// One request, from the moment the service took it to its answer leaving:
// the route the service resolved for it (once), when it started, and whether
// it counts as in progress. Move-only. One that ends without
// HttpService::finish() (its connection closed while the answer was held
// back) is taken out of "in progress" by its destructor.
class Exchange {
 public:
  using Clock = std::chrono::steady_clock;

  Exchange() = default;
  ~Exchange();
  Exchange(Exchange&& o) noexcept
      : owner_(std::exchange(o.owner_, nullptr)),
        route_(o.route_),
        start_(o.start_),
        held_(o.held_),
        trace_(o.trace_) {}
  Exchange& operator=(Exchange&& o) noexcept;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // For the service: the exchange begins, on route `route` at `start`;
  // `owner` is told if it ends unanswered (none: it is not in progress).
  void begin(HttpService* owner, std::size_t route, Clock::time_point start) {
    *this = Exchange();
    owner_ = owner;
    route_ = route;
    start_ = start;
  }
  // Ends it; true if it was in progress.
  bool end() { return std::exchange(owner_, nullptr) != nullptr; }
  // For the service: its answer is held back (counted until it ends).
  void hold() { held_ = true; }
  bool held() const { return held_; }

  ExchangeTrace& trace() { return trace_; }
  const ExchangeTrace& trace() const { return trace_; }

  bool in_progress() const { return owner_ != nullptr; }
  std::size_t route() const { return route_; }
  Clock::time_point start() const { return start_; }

 private:
  HttpService* owner_{nullptr};
  std::size_t route_{0};
  Clock::time_point start_{};
  bool held_{false};
  ExchangeTrace trace_{};
};

// What a request needs kept beyond the few fields every request keeps;
// asked once its path is known.
struct RequestNeeds {
  bool fields{false};  // every header field, in HttpRequest::fields
  // Its body, up to this many bytes (more: 413), in HttpRequest::body.
  // None: the body is read and dropped, up to HttpLimits::max_body.
  std::optional<std::uint64_t> body{};
};

class HttpService {
 public:
  // What a request to `path` (decoded, without the query) needs kept.
  virtual RequestNeeds needs(std::string_view path) const noexcept {
    (void)path;
    return {};
  }
  virtual ~HttpService() = default;
  // Takes a request: begins its exchange (the route resolved, in progress)
  // and answers it. Never throws.
  virtual HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept = 0;
  // Takes a request the protocol refused (400, 413, ...): begins its
  // exchange, not in progress, and gives the error document. Method and path
  // are empty when they could not be read.
  virtual HttpResponse refuse(int status, const HttpRequest& req, Exchange& ex) = 0;
  // The answer to `ex` is on its way with `status`: metrics and the log
  // line, and the exchange ends.
  virtual void finish(Exchange& ex, const HttpRequest& req, int status) noexcept = 0;
  // Shutdown has begun: every answer closes its connection.
  virtual bool draining() const = 0;
  // A call left open (HttpResponse::open_stream), asked again: what it says
  // now (its message in `body`; the protocol sends it if it differs from the
  // last), and `open_stream` false with `grpc` set when it ends. Never throws.
  virtual HttpResponse follow(const HttpRequest& req) noexcept {
    (void)req;
    return {};
  }
  // A count that moves whenever what follow() answers may have changed;
  // the engine then has every open stream asked again.
  virtual std::uint64_t changes() const { return 0; }

 protected:
  HttpService() = default;
  HttpService(const HttpService&) = default;
  HttpService& operator=(const HttpService&) = default;

 private:
  friend class Exchange;
  // An exchange in progress ended unanswered.
  virtual void abandon(const Exchange& ex) noexcept = 0;
};

inline Exchange::~Exchange() {
  if (owner_ != nullptr) owner_->abandon(*this);
}

inline Exchange& Exchange::operator=(Exchange&& o) noexcept {
  if (this != &o) {
    if (owner_ != nullptr) owner_->abandon(*this);
    owner_ = std::exchange(o.owner_, nullptr);
    route_ = o.route_;
    start_ = o.start_;
    held_ = o.held_;
    trace_ = o.trace_;
  }
  return *this;
}

}  // namespace devops::serve
