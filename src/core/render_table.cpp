#include <fmt/format.h>

#include "core/render.hpp"
#include "core/report_sections.hpp"

namespace devops::core {

namespace {
// Sections align their values in one column, unless a section has a key
// longer than this (a gRPC route): that one aligns on its own.
constexpr std::size_t kSharedWidthMax = 24;

std::size_t widest(const Section& sec) {
  std::size_t w = 0;
  for (const auto& row : sec.rows) w = std::max(w, row.first.size());
  return w;
}
}  // namespace

std::string render_table(const Report& report, Color color) {
  const auto secs = report_sections(report);
  std::size_t shared = 0;
  for (const auto& sec : secs) {
    if (const auto w = widest(sec); w <= kSharedWidthMax) shared = std::max(shared, w);
  }
  const bool on = color == Color::On;
  const char* bold = on ? "\x1b[1m" : "";
  const char* dim = on ? "\x1b[2m" : "";
  const char* reset = on ? "\x1b[0m" : "";
  std::string out;
  for (std::size_t i = 0; i < secs.size(); ++i) {
    if (i > 0) out += '\n';
    out += fmt::format("{}{}{}\n", bold, secs[i].title, reset);
    const auto own = widest(secs[i]);
    const auto width = own > kSharedWidthMax ? own : shared;
    for (const auto& [key, value] : secs[i].rows) {
      if (value) {
        out += fmt::format("  {:<{}}  {}\n", key, width, *value);
      } else {
        out += fmt::format("  {:<{}}  {}unknown{}\n", key, width, dim, reset);
      }
    }
  }
  return out;
}

}  // namespace devops::core
