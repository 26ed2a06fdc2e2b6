#include <fmt/format.h>

#include "core/render.hpp"
#include "core/report_sections.hpp"

namespace devops::core {

std::string render_table(const Report& report, Color color) {
  const auto secs = report_sections(report);
  std::size_t width = 0;
  for (const auto& sec : secs) {
    for (const auto& row : sec.rows) width = std::max(width, row.first.size());
  }
  const bool on = color == Color::On;
  const char* bold = on ? "\x1b[1m" : "";
  const char* dim = on ? "\x1b[2m" : "";
  const char* reset = on ? "\x1b[0m" : "";
  std::string out;
  for (std::size_t i = 0; i < secs.size(); ++i) {
    if (i > 0) out += '\n';
    out += fmt::format("{}{}{}\n", bold, secs[i].title, reset);
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
