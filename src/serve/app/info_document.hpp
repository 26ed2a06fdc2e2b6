#pragma once

// The body of GET /: the core report, collected at most once per `max_age`
// and kept as pre-rendered JSON with gaps for the values that change per
// request (current_time, the uptimes, the request). A request only fills the
// gaps: no /proc reads, no JSON tree.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/render.hpp"
#include "core/report.hpp"

namespace devops::serve {

class InfoDocument {
 public:
  using Collect = std::function<core::Report()>;
  using Clock = std::chrono::system_clock;

  // `visits`: the page shows a visit count (serve counts visits).
  InfoDocument(Collect collect, std::chrono::milliseconds max_age, Clock::time_point started, bool visits = false);

  // One line of compact JSON, as core::report_to_json(report, &request) gives it.
  std::string render(const core::RequestInfo& request, Clock::time_point now);
  // The page, as core::render_html(report, {&request, visits, live}) gives it,
  // from the same collection as the JSON.
  core::HtmlPage render_html(const core::RequestInfo& request, Clock::time_point now, std::uint64_t visits);

  // Collects now, if nothing was collected yet (to warm up off the request path).
  void prime(Clock::time_point now);

  // What collect() gives has changed (a reloaded config file): the next
  // request collects anew rather than waiting for `max_age`.
  void invalidate() { epoch_.fetch_add(1, std::memory_order_release); }

 private:
  struct Template;
  std::shared_ptr<const Template> current(Clock::time_point now);
  std::shared_ptr<const Template> build(Clock::time_point now) const;

  Collect collect_;
  std::chrono::milliseconds max_age_;
  Clock::time_point started_;
  bool visits_;
  std::uint64_t id_{};     // tells this document's templates from another's in the per-thread cache
  std::mutex publish_mu_;  // guards template_ (held only to copy a pointer)
  std::mutex refresh_mu_;  // one collector at a time; others keep the old template
  std::shared_ptr<const Template> template_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::uint64_t> epoch_{0};  // invalidate() count
};

}  // namespace devops::serve
