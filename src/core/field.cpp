#include <charconv>

#include "core/render.hpp"

namespace devops::core {

namespace {

std::string keys_of(const Json& node) {
  std::string out;
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) out += (out.empty() ? "" : ", ") + key;
  } else if (node.is_array()) {
    out = node.empty() ? "(empty list)" : "0.." + std::to_string(node.size() - 1);
  }
  return out;
}

}  // namespace

FieldLookup lookup_field(const Json& doc, std::string_view path) {
  if (path.empty()) return {nullptr, "empty field path; top-level fields: " + keys_of(doc)};
  const Json* node = &doc;
  std::string walked;
  while (true) {
    const auto dot = path.find('.');
    const std::string key(path.substr(0, dot));
    const Json* next = nullptr;
    if (node->is_object()) {
      if (auto it = node->find(key); it != node->end()) next = &*it;
    } else if (node->is_array()) {
      std::size_t index = 0;
      auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
      // Canonical decimal only: "0", "12"; not "00", "+1" or "01".
      const bool canonical = !key.empty() && (key == "0" || key.front() != '0');
      if (canonical && ec == std::errc() && p == key.data() + key.size() && index < node->size()) {
        next = &(*node)[index];
      }
    }
    if (next == nullptr) {
      std::string err = "unknown field '" + (walked.empty() ? key : walked + "." + key) + "'";
      if (node->is_structured()) {
        err += walked.empty() ? "; top-level fields: " : "; fields of " + walked + ": ";
        err += keys_of(*node);
      } else {
        err += "; " + walked + " is a single value";
      }
      return {nullptr, err};
    }
    walked += (walked.empty() ? "" : ".") + key;
    node = next;
    if (dot == std::string_view::npos) return {node, {}};
    path.remove_prefix(dot + 1);
  }
}

std::string field_text(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return {};
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace devops::core
