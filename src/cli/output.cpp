#include "cli/output.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace devops::cli {

core::Color resolve_color(ColorMode mode) {
  if (mode == ColorMode::Never) return core::Color::Off;
  if (mode == ColorMode::Always) return core::Color::On;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return core::Color::Off;
  return ::isatty(STDOUT_FILENO) == 1 ? core::Color::On : core::Color::Off;
}

bool write_stdout(std::string_view text) {
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) return false;
  return std::fflush(stdout) == 0;
}

void print_error(std::string_view message) {
  std::fprintf(stderr, "devops-info: error: %.*s\n", static_cast<int>(message.size()), message.data());
}

void print_warning(std::string_view message) {
  std::fprintf(stderr, "devops-info: warning: %.*s\n", static_cast<int>(message.size()), message.data());
}

}  // namespace devops::cli
