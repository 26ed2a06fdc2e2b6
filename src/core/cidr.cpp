#include "core/cidr.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>
#include <string>

namespace devops::core {

namespace {

// The address in `text` (no prefix), as a family and its bytes.
std::optional<Cidr> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  const std::string s(text);
  Cidr a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    a.prefix = 32;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    a.prefix = 128;
    // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
    const std::array<unsigned char, 12> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(mapped.begin(), mapped.end(), a.bytes.begin())) {
      Cidr v4;
      v4.family = AF_INET;
      v4.prefix = 32;
      std::copy(a.bytes.begin() + 12, a.bytes.end(), v4.bytes.begin());
      return v4;
    }
    return a;
  }
  return std::nullopt;
}

bool prefix_matches(const Cidr& range, const Cidr& a) {
  const int full = range.prefix / 8;
  for (int i = 0; i < full; ++i) {
    if (range.bytes[static_cast<std::size_t>(i)] != a.bytes[static_cast<std::size_t>(i)]) return false;
  }
  const int rest = range.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (range.bytes[static_cast<std::size_t>(full)] & mask) == (a.bytes[static_cast<std::size_t>(full)] & mask);
}

}  // namespace

std::optional<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  auto range = parse_address(text.substr(0, slash));
  if (!range) return std::nullopt;
  if (slash != std::string_view::npos) {
    const auto bits = text.substr(slash + 1);
    int prefix = -1;
    const auto r = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    const int max = range->family == AF_INET ? 32 : 128;
    if (bits.empty() || r.ec != std::errc() || r.ptr != bits.data() + bits.size() || prefix < 0 || prefix > max) {
      return std::nullopt;
    }
    range->prefix = prefix;
    // No bits set past the prefix: "10.0.0.1/8" is a mistake, not a range.
    Cidr masked = *range;
    for (int bit = prefix; bit < max; ++bit) {
      masked.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
    }
    if (masked.bytes != range->bytes) return std::nullopt;
  }
  return range;
}

bool cidr_contains(const Cidr& range, std::string_view ip) {
  const auto a = parse_address(ip);
  return a && a->family == range.family && prefix_matches(range, *a);
}

}  // namespace devops::core
