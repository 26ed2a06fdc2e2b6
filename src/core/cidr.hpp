#pragma once

// Address ranges (CIDR) and numeric addresses, IPv4 and IPv6: for
// --trusted-proxies, the peers whose X-Forwarded-For and Forwarded are
// believed.

#include <array>
#include <optional>
#include <string_view>

namespace devops::core {

struct Cidr {
  int family{0};  // AF_INET or AF_INET6
  std::array<unsigned char, 16> bytes{};
  int prefix{0};  // bits that must match
  bool operator==(const Cidr&) const = default;
};

// "10.0.0.0/8", "192.0.2.7" (/32), "fd00::/8", "::1" (/128); nullopt when
// it is none of those, or bits are set past the prefix ("10.0.0.1/8").
std::optional<Cidr> parse_cidr(std::string_view text);

// Whether the numeric address `ip` is in `range`; false for what is not an
// address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4.
bool cidr_contains(const Cidr& range, std::string_view ip);

}  // namespace devops::core
