#include "core/config_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "core/fd.hpp"
#include "core/host.hpp"
#include "core/json_depth.hpp"

namespace devops::core {

namespace {

constexpr std::array kSettings{
    SettingKey{"log_level", true},
    SettingKey{"log_format", true},
    SettingKey{"ready", true},
    SettingKey{"healthy", true},
    SettingKey{"fault_delay", true},
    SettingKey{"fault_error", true},
    SettingKey{"shutdown_delay", true},
    SettingKey{"shutdown_timeout", true},
    SettingKey{"introspection", true},
    SettingKey{"max_delay", true},
    SettingKey{"max_body", true},
    SettingKey{"env_allow", true},
    SettingKey{"trusted_proxies", true},
    SettingKey{"upstreams", true},
    SettingKey{"upstream_timeout", true},
    SettingKey{"upstream_max_body", true},
    SettingKey{"upstream_cacert", true},
    SettingKey{"host", false},
    SettingKey{"port", false},
    SettingKey{"threads", false},
    SettingKey{"max_connections", false},
    SettingKey{"data_dir", false},
    SettingKey{"flush_interval", false},
    SettingKey{"request_timeout", false},
    SettingKey{"idle_timeout", false},
    SettingKey{"write_timeout", false},
    SettingKey{"tls_cert", false},
    SettingKey{"tls_key", false},
    SettingKey{"tls_port", false},
    SettingKey{"tls_client_ca", false},
};
constexpr std::array<std::string_view, 3> kUiKeys{"title", "color", "message"};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// "logLevel", "log-level", "LOG_LEVEL" -> "loglevel": to catch near misses.
std::string folded(std::string_view key) {
  std::string out;
  for (const char c : key) {
    if (c != '_' && c != '-' && c != '.') out.push_back(lower(c));
  }
  return out;
}

// Where the keys of a valid JSON text are: "port" for one at the top, and
// "ui.color" one level down. A duplicate key keeps the last place, as the
// parser keeps the last value.
std::map<std::string, std::size_t, std::less<>> key_offsets(std::string_view text) {
  std::map<std::string, std::size_t, std::less<>> at;
  std::vector<char> open;  // '{' or '['
  std::string parent;      // the top-level key whose value is being read
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' || c == '[') {
      open.push_back(c);
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
    } else if (c == '"') {
      const std::size_t start = i;
      std::string s;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;  // the escaped character cannot end the string
        if (i < text.size()) s.push_back(text[i]);
      }
      std::size_t j = i + 1;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r')) ++j;
      const bool is_key = j < text.size() && text[j] == ':' && !open.empty() && open.back() == '{';
      if (!is_key) continue;
      if (open.size() == 1) {
        parent = s;
        at[s] = start;
      } else if (open.size() == 2 && open[0] == '{') {
        at[parent + "." + s] = start;
      }
    }
  }
  return at;
}

// "config.json:3:11" for a byte offset.
std::string place(std::string_view name, std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("{}:{}:{}", name, line, offset - line_start + 1);
}

const char* type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::null: return "null";
    default: return "a number";
  }
}

// A scalar as a flag would carry it; nullopt for objects and arrays.
std::optional<std::string> scalar_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number()) return v.dump();
  return std::nullopt;
}

}  // namespace

bool is_css_color(std::string_view c) {
  auto hex = [](char x) { return (x >= '0' && x <= '9') || (lower(x) >= 'a' && lower(x) <= 'f'); };
  if (!c.empty() && c.front() == '#') {
    return (c.size() == 4 || c.size() == 7) && std::all_of(c.begin() + 1, c.end(), hex);
  }
  return !c.empty() && c.size() <= 30 &&
         std::all_of(c.begin(), c.end(), [](char x) { return lower(x) >= 'a' && lower(x) <= 'z'; });
}

std::span<const SettingKey> setting_keys() {
  return kSettings;
}

std::variant<ConfigFile, ConfigError> parse_config_file(std::string_view text, std::string_view name) {
  if (const auto at = json_too_deep(text)) {
    return ConfigError{fmt::format("{}: JSON nested deeper than {} levels", place(name, text, *at), kMaxJsonDepth)};
  }
  Json doc;
  try {
    doc = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    std::string why = e.what();
    if (const auto colon = why.find(": ", why.find("column")); colon != std::string::npos) why.erase(0, colon + 2);
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return ConfigError{fmt::format("{}: invalid JSON: {}", place(name, text, at), why)};
  }
  if (!doc.is_object()) {
    return ConfigError{
        fmt::format("{}: the file must hold a JSON object, not {}", place(name, text, 0), type_name(doc))};
  }
  const auto offsets = key_offsets(text);
  auto where = [&](const std::string& key) {
    const auto it = offsets.find(key);
    return fmt::format("{}: {}", place(name, text, it == offsets.end() ? 0 : it->second), key);
  };

  ConfigFile out;
  for (const auto& entry : doc.items()) {
    // Not a structured binding: clang 14 (clang-tidy in CI) cannot capture one in a lambda.
    const auto& key = entry.key();
    const auto& value = entry.value();
    const bool setting = std::any_of(kSettings.begin(), kSettings.end(), [&](const auto& s) { return s.name == key; });
    if (setting) {
      if (value.is_null()) continue;  // null: as if the key were not there
      FileSetting s{{}, where(key)};
      const bool rules = key == "fault_delay" || key == "fault_error";
      if (auto t = scalar_text(value)) {
        s.values.push_back(*t);
      } else if (key == "upstreams" && value.is_array()) {
        for (const auto& url : value) {
          if (!url.is_string()) return ConfigError{fmt::format("{}: each upstream must be a URL string", s.where)};
          s.values.push_back(url.get<std::string>());
        }
      } else if (rules && value.is_array()) {
        for (const auto& rule : value) {
          if (!rule.is_string())
            return ConfigError{fmt::format("{}: each rule must be a string such as \"/=100ms\"", s.where)};
          s.values.push_back(rule.get<std::string>());
        }
      } else if (rules && value.is_object()) {  // {"/": "100ms", "*": 0.1}
        for (const auto& [route, v] : value.items()) {
          const auto item = scalar_text(v);
          if (!item) return ConfigError{fmt::format("{}: '{}' must be a string or a number", s.where, route)};
          s.values.push_back(route + "=" + *item);
        }
      } else {
        return ConfigError{fmt::format(
            "{}: expected {}, not {}", s.where,
            rules ? "a rule, a list of rules or an object of ROUTE: VALUE" : "a string, a number or a boolean",
            type_name(value))};
      }
      out.settings[key] = std::move(s);
    } else if (key == "ui") {
      if (!value.is_object())
        return ConfigError{fmt::format("{}: expected an object, not {}", where(key), type_name(value))};
      for (const auto& [k, v] : value.items()) {
        const std::string full = "ui." + k;
        if (std::find(kUiKeys.begin(), kUiKeys.end(), k) == kUiKeys.end()) {
          out.warnings.push_back(
              fmt::format("{}: unknown key, ignored (ui holds title, color and message)", where(full)));
          continue;
        }
        if (v.is_null()) continue;
        if (!v.is_string()) return ConfigError{fmt::format("{}: expected a string, not {}", where(full), type_name(v))};
        const auto s = v.get<std::string>();
        if (k == "color") {
          if (!is_css_color(s)) {
            return ConfigError{fmt::format("{}: '{}' is not a colour name (teal) or #rgb or #rrggbb", where(full), s)};
          }
          out.ui.color = s;
        } else {
          const std::size_t max = k == "title" ? kMaxUiTitle : kMaxUiMessage;
          if (s.size() > max) return ConfigError{fmt::format("{}: longer than {} bytes", where(full), max)};
          (k == "title" ? out.ui.title : out.ui.message) = s;
        }
      }
    } else {
      const auto f = folded(key);
      for (const auto& s : kSettings) {
        if (folded(s.name) == f) {
          out.warnings.push_back(fmt::format("{}: unknown key (did you mean '{}'?), kept as application configuration",
                                             where(key), s.name));
        }
      }
      if (folded("ui") == f) {
        out.warnings.push_back(
            fmt::format("{}: unknown key (did you mean 'ui'?), kept as application configuration", where(key)));
      }
      out.app[key] = looks_secret(key) ? Json(kRedacted) : redact_secrets(value);
    }
  }
  return out;
}

std::variant<std::string, ReadError> read_config_text(const std::string& path) {
  auto fail = [&](int e, std::string_view what) {
    return ReadError{e, fmt::format("cannot read {}: {}", path, what.empty() ? errno_text(e) : std::string(what))};
  };
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return fail(errno, "");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(S_ISDIR(st.st_mode) ? EISDIR : errno, S_ISDIR(st.st_mode) ? "" : "not a regular file");
  }
  std::string text;
  char buf[16384];
  while (true) {
    const auto n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno, "");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) return fail(EFBIG, fmt::format("larger than {} bytes", kMaxConfigBytes));
  }
  return text;
}

bool looks_secret(std::string_view key) {
  std::vector<std::string> words(1);
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool upper_after_lower = c >= 'A' && c <= 'Z' && i > 0 && key[i - 1] >= 'a' && key[i - 1] <= 'z';
    if (c == '_' || c == '-' || c == '.' || c == ' ' || upper_after_lower) words.emplace_back();
    if (c != '_' && c != '-' && c != '.' && c != ' ') words.back().push_back(lower(c));
  }
  static constexpr std::array<std::string_view, 7> kSecret{"password", "passwd", "secret",     "token",
                                                           "key",      "apikey", "credentials"};
  return std::any_of(words.begin(), words.end(), [](const std::string& w) {
    return std::any_of(kSecret.begin(), kSecret.end(), [&](std::string_view s) {
      return w == s || (w.size() == s.size() + 1 && w.back() == 's' && std::string_view(w).substr(0, s.size()) == s);
    });
  });
}

Json redact_secrets(const Json& value) {
  if (value.is_object()) {
    Json out = Json::object();
    for (const auto& [k, v] : value.items()) out[k] = looks_secret(k) ? Json(kRedacted) : redact_secrets(v);
    return out;
  }
  if (value.is_array()) {
    Json out = Json::array();
    for (const auto& v : value) out.push_back(redact_secrets(v));
    return out;
  }
  return value;
}

Json loaded_config_to_json(const LoadedConfig& c) {
  Json ui = {{"title", c.ui.title.empty() ? Json(nullptr) : Json(c.ui.title)},
             {"color", c.ui.color.empty() ? Json(nullptr) : Json(c.ui.color)},
             {"message", c.ui.message.empty() ? Json(nullptr) : Json(c.ui.message)}};
  return {{"file", c.file},           {"generation", c.generation},
          {"loaded_at", c.loaded_at}, {"pending_restart", c.pending_restart},
          {"ui", std::move(ui)},      {"values", c.values}};
}

}  // namespace devops::core
