#include "serve/app/info_document.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>
#include <span>

#include "core/timefmt.hpp"
#include "serve/log/json_text.hpp"

namespace devops::serve {

namespace {

// The per-request values, in the order of the gaps' names below.
enum Slot : std::size_t {
  kUptime,
  kUptimeHuman,
  kCurrentTime,
  kClientIp,
  kUserAgent,
  kMethod,
  kPath,
  kVisits,  // the page only
  kSlots
};

// A marker no real value contains: it starts with a control character,
// which JSON always escapes.
std::string marker(std::size_t slot) {
  return fmt::format("\x01slot-{}\x01", slot);
}

// A rendered document cut at its gaps: parts[0] gap parts[1] gap ...
// parts[n]; slots[i] fills the gap after parts[i]. Empty when the markers
// were not found exactly once each (a value of the report held one): such a
// document is rendered the slow way.
struct Parts {
  std::vector<std::string> parts;
  std::vector<Slot> slots;
  std::size_t size_hint{};
  bool exact() const { return !parts.empty(); }
};

Parts cut(const std::string& text, const std::array<std::string, kSlots>& rendered, std::span<const Slot> expected) {
  Parts t;
  std::size_t pos = 0;
  while (true) {
    std::size_t best = std::string::npos;
    Slot which = kSlots;
    for (const auto s : expected) {
      const auto at = text.find(rendered[s], pos);
      if (at < best) {
        best = at;
        which = s;
      }
    }
    if (best == std::string::npos) break;
    t.parts.push_back(text.substr(pos, best - pos));
    t.slots.push_back(which);
    pos = best + rendered[which].size();
  }
  t.parts.push_back(text.substr(pos));
  std::array<int, kSlots> seen{};
  for (const auto s : t.slots) ++seen[s];
  bool exact = t.slots.size() == expected.size();
  for (const auto s : expected) exact = exact && seen[s] == 1;
  if (!exact) return {};
  t.size_hint = text.size() + 256;
  return t;
}

}  // namespace

struct InfoDocument::Template {
  Clock::time_point collected;
  std::uint64_t epoch{};  // of invalidate(), when collected
  Parts json;
  Parts html;
  std::string csp;                             // the page's
  std::shared_ptr<const core::Report> report;  // for what is not exact
};

InfoDocument::InfoDocument(Collect collect, std::chrono::milliseconds max_age, Clock::time_point started, bool visits)
    : collect_(std::move(collect)), max_age_(max_age), started_(started), visits_(visits) {
  static std::atomic<std::uint64_t> instances{0};
  id_ = instances.fetch_add(1) + 1;
}

std::shared_ptr<const InfoDocument::Template> InfoDocument::build(Clock::time_point now) const {
  auto t = std::make_shared<Template>();
  t->collected = now;
  t->epoch = epoch_.load(std::memory_order_acquire);
  auto report = std::make_shared<core::Report>(collect_());
  const core::RequestInfo gaps{marker(kClientIp), marker(kUserAgent), marker(kMethod), marker(kPath)};

  auto doc = core::report_to_json(*report, &gaps);
  doc["runtime"]["uptime_seconds"] = marker(kUptime);
  doc["runtime"]["uptime_human"] = marker(kUptimeHuman);
  doc["runtime"]["current_time"] = marker(kCurrentTime);
  std::array<std::string, kSlots> rendered;  // the markers as the document shows them
  for (std::size_t s = 0; s < kSlots; ++s) rendered[s] = nlohmann::json(marker(s)).dump();
  static constexpr Slot kJsonSlots[] = {kUptime, kUptimeHuman, kCurrentTime, kClientIp, kUserAgent, kMethod, kPath};
  t->json = cut(core::render_json(doc, core::JsonStyle::Compact), rendered, kJsonSlots);

  core::Report marked = *report;
  marked.runtime.uptime_human = marker(kUptimeHuman);
  marked.runtime.current_time = marker(kCurrentTime);
  auto page = core::render_html(marked, {&gaps, visits_ ? std::optional(marker(kVisits)) : std::nullopt, true});
  for (std::size_t s = 0; s < kSlots; ++s) rendered[s] = core::html_escape(marker(s));
  static constexpr Slot kHtmlSlots[] = {kUptimeHuman, kCurrentTime, kClientIp, kUserAgent, kMethod, kPath, kVisits};
  t->html = cut(page.html, rendered, std::span<const Slot>(kHtmlSlots, visits_ ? 7 : 6));
  t->csp = std::move(page.csp);
  t->report = std::move(report);
  return t;
}

std::shared_ptr<const InfoDocument::Template> InfoDocument::current(Clock::time_point now) {
  // Each thread keeps its own reference and only takes the lock when a newer
  // template was published: the request path stays lock-free.
  struct Cached {
    std::uint64_t owner = 0;
    std::uint64_t generation = 0;
    std::shared_ptr<const Template> tpl;
  };
  thread_local Cached cached;
  const auto gen = generation_.load(std::memory_order_acquire);
  if (cached.owner != id_ || cached.generation != gen || !cached.tpl) {
    std::lock_guard lock(publish_mu_);
    cached = {id_, generation_.load(std::memory_order_relaxed), template_};
  }
  const auto epoch = epoch_.load(std::memory_order_acquire);
  const bool stale = !cached.tpl || now - cached.tpl->collected >= max_age_ || now < cached.tpl->collected ||
                     cached.tpl->epoch != epoch;
  if (!stale) return cached.tpl;

  // The first request waits for the collection; later ones let one thread
  // refresh while the rest answer from the previous template.
  std::unique_lock refresh(refresh_mu_, std::defer_lock);
  if (cached.tpl) {
    if (!refresh.try_lock()) return cached.tpl;
  } else {
    refresh.lock();
  }
  {
    std::lock_guard lock(publish_mu_);
    if (template_ && template_ != cached.tpl && now - template_->collected < max_age_ && template_->epoch == epoch) {
      cached = {id_, generation_.load(std::memory_order_relaxed), template_};
      return cached.tpl;
    }
  }
  auto fresh = build(now);
  {
    std::lock_guard lock(publish_mu_);
    template_ = fresh;
    const auto next = generation_.load(std::memory_order_relaxed) + 1;
    generation_.store(next, std::memory_order_release);
    cached = {id_, next, fresh};
  }
  return fresh;
}

void InfoDocument::prime(Clock::time_point now) {
  (void)current(now);
}

std::string InfoDocument::render(const core::RequestInfo& request, Clock::time_point now) {
  const auto t = current(now);
  const std::int64_t up = core::elapsed_seconds(started_, now);

  if (!t->json.exact()) {
    core::Report r = *t->report;
    r.runtime.uptime_seconds = up;
    r.runtime.uptime_human = core::humanize_uptime(up);
    r.runtime.current_time = core::iso8601_utc(now);
    return core::render_json(core::report_to_json(r, &request), core::JsonStyle::Compact);
  }

  std::string out;
  out.reserve(t->json.size_hint + request.user_agent.size() + request.path.size());
  for (std::size_t i = 0; i < t->json.slots.size(); ++i) {
    out += t->json.parts[i];
    switch (t->json.slots[i]) {
      case kUptime: fmt::format_to(std::back_inserter(out), "{}", up); break;
      case kUptimeHuman: append_json_string(out, core::humanize_uptime(up)); break;
      case kCurrentTime: append_json_string(out, core::iso8601_utc(now)); break;
      case kClientIp: append_json_string(out, request.client_ip); break;
      case kUserAgent: append_json_string(out, request.user_agent); break;
      case kMethod: append_json_string(out, request.method); break;
      case kPath: append_json_string(out, request.path); break;
      case kVisits:
      case kSlots: break;
    }
  }
  out += t->json.parts.back();
  return out;
}

core::HtmlPage InfoDocument::render_html(const core::RequestInfo& request, Clock::time_point now,
                                         std::uint64_t visits) {
  const auto t = current(now);
  const std::int64_t up = core::elapsed_seconds(started_, now);
  if (!t->html.exact()) {
    core::Report r = *t->report;
    r.runtime.uptime_seconds = up;
    r.runtime.uptime_human = core::humanize_uptime(up);
    r.runtime.current_time = core::iso8601_utc(now);
    return core::render_html(r, {&request, visits_ ? std::optional(std::to_string(visits)) : std::nullopt, true});
  }
  core::HtmlPage page;
  page.csp = t->csp;
  auto& out = page.html;
  out.reserve(t->html.size_hint + 2 * (request.user_agent.size() + request.path.size()));
  for (std::size_t i = 0; i < t->html.slots.size(); ++i) {
    out += t->html.parts[i];
    switch (t->html.slots[i]) {
      case kUptimeHuman: out += core::humanize_uptime(up); break;
      case kCurrentTime: out += core::iso8601_utc(now); break;
      case kClientIp: out += core::html_escape(request.client_ip); break;
      case kUserAgent: out += core::html_escape(request.user_agent); break;
      case kMethod: out += core::html_escape(request.method); break;
      case kPath: out += core::html_escape(request.path); break;
      case kVisits: fmt::format_to(std::back_inserter(out), "{}", visits); break;
      case kUptime:
      case kSlots: break;
    }
  }
  out += t->html.parts.back();
  return page;
}

}  // namespace devops::serve
