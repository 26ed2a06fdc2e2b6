#pragma once

#include <string>
#include <string_view>

#include "core/render.hpp"

namespace devops::cli {

// --color auto|always|never
enum class ColorMode { Auto, Always, Never };

// Colour for stdout: never with NO_COLOR set (non-empty), only on a terminal in auto mode.
core::Color resolve_color(ColorMode mode);

// Writes `text` to stdout; when that fails (a closed pipe, a full disk) says
// so on stderr and returns false.
bool write_stdout(std::string_view text);

// "devops-info: error: <message>" on stderr.
void print_error(std::string_view message);
// "devops-info: warning: <message>" on stderr.
void print_warning(std::string_view message);

}  // namespace devops::cli
