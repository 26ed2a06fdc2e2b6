#include "cli/output.hpp"

#include "core/host.hpp"

#include <unistd.h>

#include <cstdio>

namespace devops::cli {

core::Color resolve_color(ColorMode mode) {
  if (mode == ColorMode::Never) return core::Color::Off;
  if (mode == ColorMode::Always) return core::Color::On;
  if (const auto no_color = core::environment_value("NO_COLOR"); no_color && !no_color->empty()) {
    return core::Color::Off;
  }
  return ::isatty(STDOUT_FILENO) == 1 ? core::Color::On : core::Color::Off;
}

bool write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0) return true;
  print_error("cannot write to standard output");
  return false;
}

void print_error(std::string_view message) {
  std::fprintf(stderr, "devops-info: error: %.*s\n", static_cast<int>(message.size()), message.data());
}

void print_warning(std::string_view message) {
  std::fprintf(stderr, "devops-info: warning: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace devops::cli
