#pragma once

// The Date header's value, "Sun, 29 Nov 2026 20:13:28 GMT" (RFC 9110
// IMF-fixdate), without the locale, formatted at most once a second.

#include <array>
#include <ctime>
#include <string_view>

namespace devops::serve {

class HttpDate {
 public:
  // The value for the current second (time(2)).
  std::string_view now();
  // The value for `t`.
  static std::array<char, 32> format(std::time_t t);

 private:
  std::time_t second_{-1};
  std::array<char, 32> text_{};
};

}  // namespace devops::serve
