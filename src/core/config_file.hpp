#pragma once

// The config file (--config FILE, CONFIG_FILE): one JSON object whose keys are
// the service's own settings (named like serve's flags), `ui` (the browser
// page's title, colour and message) and, under every other key, the
// application's own configuration, which GET / and `info` show. Pure: text
// in, values or an error naming the line, column and key out.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config_values.hpp"
#include "core/render.hpp"

namespace devops::core {

inline constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxUiTitle = 100;
inline constexpr std::size_t kMaxUiMessage = 1000;

// A service setting the file may hold, and whether a running server applies a
// change at once (live) or at its next start.
struct SettingKey {
  std::string_view name;
  bool live;
};
std::span<const SettingKey> setting_keys();

// A colour the page may put in its CSS: a name of letters only (teal, up to
// 30) or #rgb / #rrggbb. Nothing else can reach the style sheet.
bool is_css_color(std::string_view c);

// The page's look, so that two versions in a canary are told apart.
struct UiSettings {
  std::string title;    // empty: the service's name
  std::string color;    // a CSS colour: a name (teal) or #rgb / #rrggbb; empty: the default
  std::string message;  // a line under the title; empty: none
  bool operator==(const UiSettings&) const = default;
};

// One setting as the file gives it: the text a flag would carry (several for
// the fault rules) and where it is, for messages: "config.json:3:11: port".
struct FileSetting {
  std::vector<std::string> values;
  std::string where;
};

struct ConfigFile {
  std::map<std::string, FileSetting, std::less<>> settings;
  UiSettings ui;
  Json app = Json::object();          // every other key, secrets already redacted
  std::vector<std::string> warnings;  // unknown keys: each a complete message
};

// Parses the text of the file `name` (for messages). Errors read
// "NAME:LINE:COLUMN: KEY: why" or "NAME:LINE:COLUMN: invalid JSON: why".
std::variant<ConfigFile, ConfigError> parse_config_file(std::string_view text, std::string_view name);

// Reads the file whole, through symlinks; at most kMaxConfigBytes.
struct ReadError {
  int errno_value{};  // ENOENT: the file is not there
  std::string message;
};
std::variant<std::string, ReadError> read_config_text(const std::string& path);

// A key that looks like it holds a secret: one of its words (split at
// '_', '-', '.' and lower-to-upper case changes) is password, passwd, secret,
// token, key, apikey or credentials, or one of those plus "s".
bool looks_secret(std::string_view key);
// The value with every secret-looking key's value, at any depth, replaced by "<redacted>".
Json redact_secrets(const Json& value);
inline constexpr const char* kRedacted = "<redacted>";

// What GET / and `info` show under "config".
struct LoadedConfig {
  std::string file;
  std::uint64_t generation{1};  // 1 at start, one more for every change applied
  std::string loaded_at;        // ISO 8601, UTC
  UiSettings ui;
  Json values = Json::object();
  std::vector<std::string> pending_restart;  // restart-only keys whose new values wait for a restart
};
Json loaded_config_to_json(const LoadedConfig& c);

}  // namespace devops::core
