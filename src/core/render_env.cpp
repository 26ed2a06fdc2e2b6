#include <cctype>

#include "core/render.hpp"

namespace devops::core {

namespace {

std::string env_name(std::string_view prefix, std::string_view key) {
  std::string out(prefix);
  out += '_';
  for (char c : key) {
    const auto ch = static_cast<unsigned char>(c);
    out += std::isalnum(ch) != 0 ? static_cast<char>(std::toupper(ch)) : '_';
  }
  return out;
}

void flatten(const Json& node, const std::string& name, std::string& out) {
  if (node.is_object()) {
    for (const auto& [key, child] : node.items()) flatten(child, env_name(name, key), out);
  } else if (node.is_array()) {
    std::size_t i = 0;
    for (const auto& child : node) flatten(child, name + "_" + std::to_string(i++), out);
  } else {
    out += name + "=" + shell_quote(field_text(node)) + "\n";
  }
}

}  // namespace

std::string shell_quote(std::string_view value) {
  std::string out = "'";
  for (char ch : value) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '\'') {
      out += "'\\''";  // close, escaped quote, reopen
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';  // keeps every variable on one line of an env file
    } else {
      out += ch;
    }
  }
  out += '\'';
  return out;
}

std::string render_env(const Json& doc, std::string_view prefix) {
  std::string out;
  flatten(doc, std::string(prefix), out);
  return out;
}

}  // namespace devops::core
