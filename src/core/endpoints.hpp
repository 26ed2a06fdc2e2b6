#pragma once

#include <span>
#include <string_view>

namespace devops::core {

// One route that `serve` publishes.
struct Endpoint {
  std::string_view path;  // a path, or a template whose last segment is a {name}: /status/{code}
  std::string_view method;
  std::string_view description;
};

// The routes of `serve`, in the order `GET /` lists them. The router is
// built from this table, so the two cannot drift apart.
std::span<const Endpoint> endpoints();

}  // namespace devops::core
