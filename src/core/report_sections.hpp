#pragma once

// The report's facts in titled sections of (label, value) rows, with human
// units; a value that could not be read is empty. The table and Markdown
// renderers share it, so that both show the same facts.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/report.hpp"

namespace devops::core {

using SectionRow = std::pair<std::string, std::optional<std::string>>;

struct Section {
  std::string title;
  std::vector<SectionRow> rows;
};

std::vector<Section> report_sections(const Report& report);

}  // namespace devops::core
