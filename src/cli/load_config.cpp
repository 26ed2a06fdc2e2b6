#include "cli/load_config.hpp"

#include "core/host.hpp"
#include "core/serve_config.hpp"

namespace devops::cli {

std::optional<std::string> config_path(const std::optional<std::string>& flag) {
  if (flag) return flag;
  if (auto v = core::environment_value("CONFIG_FILE"); v && !v->empty()) return v;
  return std::nullopt;
}

std::variant<LoadedFile, core::ConfigError> load_config_file(const std::string& path) {
  if (path.empty()) return core::ConfigError{"--config: '' is not a file"};
  auto read = core::read_config_text(path);
  if (auto* e = std::get_if<core::ReadError>(&read)) return core::ConfigError{e->message};
  auto& text = std::get<std::string>(read);
  auto parsed = core::parse_config_file(text, path);
  if (auto* e = std::get_if<core::ConfigError>(&parsed)) return *e;
  if (auto e = core::check_settings(std::get<core::ConfigFile>(parsed))) return *e;
  return LoadedFile{std::get<core::ConfigFile>(std::move(parsed)), std::move(text)};
}

}  // namespace devops::cli
