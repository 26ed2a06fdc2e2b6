#include "serve/app/environment.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>

namespace devops::serve {

Environment process_environment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  std::sort(env.begin(), env.end());
  return env;
}

core::Json select_environment(const Environment& env, const std::vector<std::string>& patterns) {
  core::Json variables = core::Json::object();
  for (const auto& [name, value] : env) {
    const bool allowed = std::any_of(patterns.begin(), patterns.end(), [&, &n = name](const std::string& p) {
      return ::fnmatch(p.c_str(), n.c_str(), 0) == 0;
    });
    if (!allowed) continue;
    variables[name] = core::looks_secret(name) ? std::string(core::kRedacted) : value;
  }
  return {{"variables", std::move(variables)}, {"allowed", patterns}};
}

}  // namespace devops::serve
