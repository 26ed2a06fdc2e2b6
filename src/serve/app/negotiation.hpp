#pragma once

// Which form of GET / a client gets: the JSON document, unless it asks for the
// page (a browser ranks text/html above application/json), or names one with
// ?format=json|html.

#include <optional>
#include <string_view>

namespace devops::serve {

enum class InfoFormat { Json, Html };

// nullopt when ?format= names neither json nor html.
std::optional<InfoFormat> choose_info_format(std::string_view query, std::string_view accept);

// The weight (0 to 1) the Accept value gives `type` ("text/html"): that of
// the most specific range matching it, 0 when none does, 1 when `accept` is empty.
double accept_weight(std::string_view accept, std::string_view type);

}  // namespace devops::serve
