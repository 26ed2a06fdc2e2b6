#pragma once

// Something else that lives on an event loop beside its server connections
// (the upstream client: its connections, its resolver's answers, its
// deadlines). It registers its descriptors in the loop's Reactor with tags
// that are EventTags marked `side`, and the loop hands their events back;
// it says when its next deadline is, and the loop calls expire() then.
// Everything runs on the loop's thread.

#include <chrono>
#include <cstdint>

namespace devops::serve {

class Reactor;

// The first base of whatever the loop's Reactor carries as a tag: the loop
// tells its own connections from a side's by it.
struct EventTag {
  bool side{false};
};

class LoopSide {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~LoopSide() = default;
  LoopSide(const LoopSide&) = delete;
  LoopSide& operator=(const LoopSide&) = delete;

  // On the loop's thread, before its first turn.
  virtual void started() {}
  // Events of a descriptor the side registered with `tag`.
  virtual void on_event(EventTag* tag, std::uint32_t events) = 0;
  // The earliest deadline it holds (time_point::max(): none).
  virtual Clock::time_point next_deadline() const = 0;
  // The loop's time moved to `now`: deadlines that passed are handled.
  virtual void expire(Clock::time_point now) = 0;

 protected:
  LoopSide() = default;
};

}  // namespace devops::serve
