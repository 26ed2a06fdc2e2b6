#include "serve/app/client_address.hpp"

#include <algorithm>

namespace devops::serve {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The comma-separated items of `list`, in order.
std::vector<std::string_view> items(std::string_view list) {
  std::vector<std::string_view> out;
  while (true) {
    const auto comma = list.find(',');
    out.push_back(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

// Forwarded's for= of one element ("for=192.0.2.60;proto=http", or
// for="[2001:db8::17]:4711"): the address alone, without quotes, brackets
// or port; empty when the element has none.
std::string_view forwarded_for_of(std::string_view element) {
  while (!element.empty()) {
    const auto semi = element.find(';');
    auto pair = trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
    if (pair.size() < 4 || (pair[0] != 'f' && pair[0] != 'F') || (pair[1] != 'o' && pair[1] != 'O') ||
        (pair[2] != 'r' && pair[2] != 'R') || pair[3] != '=') {
      continue;
    }
    auto value = pair.substr(4);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (value.starts_with('[')) {
      const auto close = value.find(']');
      return close == std::string_view::npos ? std::string_view() : value.substr(1, close - 1);
    }
    if (value.find(':') == value.rfind(':')) value = value.substr(0, value.find(':'));  // IPv4:port
    return value;
  }
  return {};
}

bool is_address(std::string_view s) {
  return !s.empty() && s.find('/') == std::string_view::npos && core::parse_cidr(s).has_value();
}

}  // namespace

std::string client_address(std::string_view peer, std::string_view forwarded_for, std::string_view forwarded,
                           const std::vector<core::Cidr>& trusted) {
  auto is_trusted = [&](std::string_view ip) {
    return std::any_of(trusted.begin(), trusted.end(), [&](const core::Cidr& c) { return core::cidr_contains(c, ip); });
  };
  if (trusted.empty() || (forwarded.empty() && forwarded_for.empty()) || !is_trusted(peer)) return std::string(peer);
  std::vector<std::string_view> hops;
  if (!forwarded.empty()) {
    for (const auto element : items(forwarded)) hops.push_back(forwarded_for_of(element));
  } else {
    hops = items(forwarded_for);
  }
  std::string_view client = peer;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!is_address(*it)) break;
    client = *it;
    if (!is_trusted(client)) break;
  }
  return std::string(client);
}

}  // namespace devops::serve
