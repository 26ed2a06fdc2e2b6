#include "serve/app/negotiation.hpp"

#include <boost/beast/core/string.hpp>

#include <charconv>

namespace devops::serve {

namespace {

bool ieq(std::string_view a, std::string_view b) {
  using BeastView = boost::beast::string_view;  // Boost 1.74's own, not std's
  return boost::beast::iequals(BeastView(a.data(), a.size()), BeastView(b.data(), b.size()));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "0.8" (RFC 9110 12.4.2: up to three decimals, 0 to 1); nullopt otherwise.
std::optional<double> parse_q(std::string_view v) {
  double q = -1;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), q);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || q < 0 || q > 1) return std::nullopt;
  return q;
}

}  // namespace

double accept_weight(std::string_view accept, std::string_view type) {
  if (trim(accept).empty()) return 1;
  const auto slash = type.find('/');
  const auto major = type.substr(0, slash);
  int best_rank = 0;
  double best_q = 0;
  while (!accept.empty()) {
    const auto comma = accept.find(',');
    auto item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const auto semi = item.find(';');
    const auto range = trim(item.substr(0, semi));
    double q = 1;
    for (auto params = semi == std::string_view::npos ? std::string_view() : item.substr(semi + 1); !params.empty();) {
      const auto next = params.find(';');
      const auto p = trim(params.substr(0, next));
      params = next == std::string_view::npos ? std::string_view() : params.substr(next + 1);
      if (p.size() > 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
        const auto v = parse_q(p.substr(2));
        q = v.value_or(0);  // a malformed weight counts as "not acceptable"
      }
    }
    int rank = 0;
    if (ieq(range, type)) {
      rank = 3;
    } else if (range.size() == major.size() + 2 && ieq(range.substr(0, major.size()), major) &&
               range.substr(major.size()) == "/*") {
      rank = 2;
    } else if (range == "*/*") {
      rank = 1;
    }
    if (rank > best_rank || (rank == best_rank && rank > 0 && q > best_q)) {
      best_rank = rank;
      best_q = q;
    }
  }
  return best_rank == 0 ? 0 : best_q;
}

std::optional<InfoFormat> choose_info_format(std::string_view query, std::string_view accept) {
  std::optional<std::string_view> named;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.starts_with("format=")) named = pair.substr(7);
  }
  if (named) {
    if (ieq(*named, "json")) return InfoFormat::Json;
    if (ieq(*named, "html")) return InfoFormat::Html;
    return std::nullopt;
  }
  // Equal weights (curl's */*, no Accept at all) keep the JSON of the service this replaces.
  const double html = accept_weight(accept, "text/html");
  return html > 0 && html > accept_weight(accept, "application/json") ? InfoFormat::Html : InfoFormat::Json;
}

}  // namespace devops::serve
