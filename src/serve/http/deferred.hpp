#pragma once

// An answer given later by another part of the same event loop (GET
// /upstreams waits for the upstreams' answers): the service returns an
// HttpResponse with `deferred` set, the protocol holds the exchange, and
// whoever completes the Deferred wakes the connection, which then sends the
// answer. Until then the response the service returned stands by: its
// `delay` bounds the wait, and it is what is sent if nothing came by then.
// All on the loop's own thread.

#include <chrono>
#include <memory>
#include <utility>

#include "serve/http/http_types.hpp"

namespace devops::serve {

// The connection whose protocol the loop is calling on this thread, as the
// engine marks it: a Deferred made during that call wakes it.
struct WakeTarget {
  // Wakes `conn` (a token of the loop's: gone once the connection closed).
  void (*wake)(void* loop, const std::shared_ptr<void>& conn){nullptr};
  void* loop{nullptr};
  std::weak_ptr<void> conn;
};
// The engine: marks (or with {} unmarks) the connection being handled; `mint`
// gives its token only when a Deferred asks for it.
using MintToken = std::shared_ptr<void> (*)(void* loop, void* conn);
void set_current_connection(void* loop, void* conn, MintToken mint,
                            void (*wake)(void* loop, const std::shared_ptr<void>& conn));
WakeTarget current_wake_target();

class Deferred {
 public:
  // Bound to the connection being handled now (none outside the engine: tests).
  Deferred() : target_(current_wake_target()) {}
  bool ready() const { return ready_; }
  // The answer is here: the connection is woken to send it. Once.
  void complete(HttpResponse r) {
    if (ready_) return;
    response_ = std::move(r);
    ready_ = true;
    if (target_.wake == nullptr) return;
    if (auto conn = target_.conn.lock()) target_.wake(target_.loop, conn);
  }
  HttpResponse take() { return std::move(response_); }

 private:
  WakeTarget target_;
  HttpResponse response_;
  bool ready_{false};
};

// A held answer (HttpResponse::delay, or deferred): whether it may go now.
inline bool held_answer_due(const HttpResponse& held, std::chrono::steady_clock::time_point release,
                            std::chrono::steady_clock::time_point now) {
  return now >= release || (held.deferred != nullptr && held.deferred->ready());
}
// What a held answer sends: the deferred one when it is ready, else itself.
inline HttpResponse held_answer(HttpResponse& held) {
  if (held.deferred != nullptr && held.deferred->ready()) return held.deferred->take();
  held.deferred.reset();
  return std::move(held);
}

}  // namespace devops::serve
