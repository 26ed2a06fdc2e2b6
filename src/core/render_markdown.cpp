// Markdown for CI pages (GitHub's $GITHUB_STEP_SUMMARY, merge-request
// comments): the table's sections as Markdown tables.
#include <fmt/format.h>

#include "core/render.hpp"
#include "core/report_sections.hpp"

namespace devops::core {

std::string markdown_cell(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      // Inline HTML would be rendered, and a pipe would end the cell.
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '|': out += "\\|"; break;
      // Markdown's own marks, taken literally.
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '#':
      case '~':
        out += '\\';
        out += c;
        break;
      default:
        // A line break or any other control character would end the row.
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
    }
  }
  return out;
}

std::string render_markdown(const Report& report) {
  std::string out =
      fmt::format("## {} {} on {}\n", markdown_cell(report.service.name), markdown_cell(report.service.version),
                  markdown_cell(report.system.hostname.value_or("an unknown host")));
  for (const auto& sec : report_sections(report)) {
    out += fmt::format("\n### {}\n\n| | |\n| --- | --- |\n", markdown_cell(sec.title));
    for (const auto& [label, value] : sec.rows) {
      out += fmt::format("| {} | {} |\n", markdown_cell(label), value ? markdown_cell(*value) : "*unknown*");
    }
  }
  return out;
}

}  // namespace devops::core
