// os-release(5): NAME, VERSION_ID, ID, PRETTY_NAME.
#include <sstream>

#include "core/collectors.hpp"

namespace devops::core {

namespace {

// Undoes the shell-style quoting that os-release(5) allows.
std::string unquote(std::string_view v) {
  while (!v.empty() && (v.back() == '\r' || v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    const char q = v.front();
    v = v.substr(1, v.size() - 2);
    if (q == '\'') return std::string(v);
    std::string out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  return std::string(v);
}

}  // namespace

std::optional<std::string> os_release_value(std::string_view text, std::string_view key) {
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l(line);
    if (l.size() > key.size() && l.substr(0, key.size()) == key && l[key.size()] == '=') {
      return unquote(l.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

void collect_os_release(const Host& host, SystemInfo& sys, Notes& notes) {
  auto r = host.read("/etc/os-release");
  if (!r) r = host.read("/usr/lib/os-release");
  if (!r) {
    // A scratch image has no os-release: say so once, not per key.
    notes.push_back({"system.os", "no /etc/os-release or /usr/lib/os-release"});
    return;
  }
  sys.os.name = os_release_value(*r.content, "NAME");
  sys.os.version = os_release_value(*r.content, "VERSION_ID");
  sys.os.id = os_release_value(*r.content, "ID");
  sys.os.pretty_name = os_release_value(*r.content, "PRETTY_NAME");
}

}  // namespace devops::core
