#pragma once

// Pure functions from facts to text: JSON, an aligned table, Markdown, shell
// variables, one field. Nothing here reads the host.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/report.hpp"

namespace devops::core {

using Json = nlohmann::ordered_json;

// The request that `GET /` adds to the report.
struct RequestInfo {
  std::string client_ip;
  std::string user_agent;
  std::string method;
  std::string path;
};

// The report as JSON, keys in schema order; `request` is added when given.
Json report_to_json(const Report& report, const RequestInfo* request = nullptr);

enum class JsonStyle { Pretty, Compact };
// JSON text ending in a newline; invalid UTF-8 is replaced, never thrown on.
std::string render_json(const Json& doc, JsonStyle style);

enum class Color { Off, On };
// Grouped, aligned sections with human units.
std::string render_table(const Report& report, Color color);

// The table's sections as Markdown tables under a heading, for CI pages.
// Every value is escaped: no inline HTML, no Markdown marks, no line breaks.
std::string render_markdown(const Report& report);

// `text` as it reads in a Markdown table cell (see render_markdown).
std::string markdown_cell(std::string_view text);

// The page for a browser (GET / from one, `info --format html`): the table's
// sections, the request, the visit count and the config file's values, in the
// config's ui colour, title and message. Self-contained (inline CSS, at most
// one inline script), every value escaped, with the Content-Security-Policy
// that admits exactly its own style and script by their hashes.
struct HtmlOptions {
  const RequestInfo* request = nullptr;  // GET /: the request it answers
  std::optional<std::string> visits;     // the visit count, when counting
  bool live = false;                     // a script refreshes health, uptime and visits every 5 s
};
struct HtmlPage {
  std::string html;
  std::string csp;  // for the Content-Security-Policy header (the page carries it in a meta tag too)
};
HtmlPage render_html(const Report& report, const HtmlOptions& options);

// Text for HTML content and quoted attributes: & < > " ' escaped, control
// characters other than tab and newline replaced by U+FFFD.
std::string html_escape(std::string_view text);

// One `PREFIX_PATH_TO_KEY='value'` line per scalar, safe for `eval` and for
// line-oriented env files: single-quoted, control characters become spaces.
std::string render_env(const Json& doc, std::string_view prefix = "DEVOPS_INFO");

// POSIX shell single-quoting of `value` (with control characters replaced).
std::string shell_quote(std::string_view value);

// The value at a dotted path such as "system.hostname" or "endpoints.0.path".
struct FieldLookup {
  const Json* value = nullptr;  // null when the path does not exist
  std::string error;            // why, with the keys that do exist there
};
FieldLookup lookup_field(const Json& doc, std::string_view path);

// A field's value for a shell: strings raw, null empty, objects compact JSON.
std::string field_text(const Json& value);

}  // namespace devops::core
