// The page a browser gets from GET / and `info --format html` writes.
#include <fmt/format.h>

#include "core/config_file.hpp"
#include "core/render.hpp"
#include "core/report_sections.hpp"
#include "core/sha256.hpp"

namespace devops::core {

namespace {

constexpr std::string_view kDefaultColor = "#326ce5";

// Fixed apart from the accent colour, which comes first.
constexpr std::string_view kStyle =
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1f2328;"
    "background:#f6f8fa}"
    "header{background:#fff;border-top:10px solid var(--accent);padding:20px 24px 16px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.08)}"
    "h1{margin:0;font-size:26px;display:flex;align-items:center;gap:12px;flex-wrap:wrap}"
    ".swatch{width:22px;height:22px;border-radius:50%;background:var(--accent);display:inline-block;"
    "border:1px solid rgba(0,0,0,.15)}"
    ".version{font-size:15px;font-weight:600;color:#fff;background:var(--accent);border-radius:12px;"
    "padding:2px 10px;text-shadow:0 0 2px rgba(0,0,0,.6)}"
    ".host{margin:6px 0 0;color:#57606a}"
    ".message{margin:12px 0 0;padding:8px 12px;border-left:4px solid var(--accent);background:#f6f8fa;"
    "font-weight:600}"
    "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px;padding:16px 24px}"
    "section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 16px;overflow:auto}"
    "section.wide{grid-column:1/-1}"
    "h2{margin:0 0 8px;font-size:16px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:3px 8px 3px 0;border-top:1px solid #eaeef2;"
    "overflow-wrap:anywhere}"
    "th{font-weight:500;color:#57606a;white-space:nowrap;width:40%}"
    "td{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}"
    ".unknown{color:#8c959f;font-style:italic}"
    "pre{margin:0;font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;"
    "overflow-wrap:anywhere}"
    "footer{padding:0 24px 24px;color:#57606a;font-size:13px}"
    "@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}"
    "header,section{background:#161b22;border-color:#30363d}.message{background:#0d1117}"
    "th{color:#8d96a0}th,td{border-color:#21262d}}";

// Every 5 s: health and uptime from /health, the count from /visits (GET /
// itself would count a visit). Values go in as text, never as HTML.
constexpr std::string_view kScript =
    "(()=>{const $=i=>document.getElementById(i);"
    "const up=s=>Math.floor(s/3600)+' hours, '+Math.floor(s%3600/60)+' minutes';"
    "async function get(p){const r=await fetch(p,{cache:'no-store',headers:{Accept:'application/json'}});"
    "return r.json();}"
    "async function tick(){"
    "try{const h=await get('/health');$('health').textContent=h.status;"
    "$('uptime').textContent=up(h.uptime_seconds);$('current-time').textContent=h.timestamp;}"
    "catch(e){$('health').textContent='unreachable';}"
    "if($('visits')){try{$('visits').textContent=String((await get('/visits')).visits);}catch(e){}}}"
    "setInterval(tick,5000);})();";

// A string of the config's ui, or empty.
std::string ui_value(const Report& r, const char* key) {
  if (!r.config || !r.config->contains("ui")) return {};
  const auto& ui = (*r.config)["ui"];
  const auto it = ui.find(key);
  return it != ui.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The cells the script refreshes.
std::string_view cell_id(std::string_view section, std::string_view label) {
  if (section == "Runtime" && label == "uptime") return "uptime";
  if (section == "Runtime" && label == "current time") return "current-time";
  if (section == "Runtime" && label == "visits") return "visits";
  return {};
}

void append_section(std::string& out, const Section& sec, bool wide = false) {
  fmt::format_to(std::back_inserter(out), "<section{}><h2>{}</h2><table>\n", wide ? " class=\"wide\"" : "",
                 html_escape(sec.title));
  for (const auto& [label, value] : sec.rows) {
    const auto id = cell_id(sec.title, label);
    const std::string id_attr = id.empty() ? std::string() : fmt::format(" id=\"{}\"", id);
    if (value) {
      fmt::format_to(std::back_inserter(out), "<tr><th>{}</th><td{}>{}</td></tr>\n", html_escape(label), id_attr,
                     html_escape(*value));
    } else {
      fmt::format_to(std::back_inserter(out), "<tr><th>{}</th><td{} class=\"unknown\">unknown</td></tr>\n",
                     html_escape(label), id_attr);
    }
  }
  out += "</table></section>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\t':
      case '\n': out += c; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += c;
        }
    }
  }
  return out;
}

HtmlPage render_html(const Report& report, const HtmlOptions& options) {
  const std::string color = [&] {
    auto c = ui_value(report, "color");
    return is_css_color(c) ? c : std::string(kDefaultColor);  // checked again: the renderer trusts no input
  }();
  std::string title = ui_value(report, "title");
  if (title.empty()) title = report.service.name;
  const std::string message = ui_value(report, "message");
  const std::string host = report.system.hostname.value_or("an unknown host");

  const std::string style = fmt::format(":root{{--accent:{}}}{}", color, kStyle);
  HtmlPage page;
  page.csp = fmt::format("default-src 'none'; style-src {}; ", csp_hash(style));
  page.csp += options.live ? fmt::format("script-src {}; connect-src 'self'; ", csp_hash(kScript))
                           : std::string("script-src 'none'; connect-src 'none'; ");
  page.csp += "img-src 'none'; base-uri 'none'; form-action 'none'";

  std::string& out = page.html;
  out.reserve(16384);
  fmt::format_to(std::back_inserter(out),
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n"
                 "<title>{} {} on {}</title>\n<style>{}</style>\n</head>\n<body>\n",
                 html_escape(page.csp), html_escape(title), html_escape(report.service.version), html_escape(host),
                 style);
  fmt::format_to(std::back_inserter(out),
                 "<header>\n<h1><span class=\"swatch\"></span>{} <span class=\"version\">{}</span></h1>\n"
                 "<p class=\"host\">on <strong>{}</strong>{}</p>\n",
                 html_escape(title), html_escape(report.service.version), html_escape(host),
                 options.live ? " &middot; <span id=\"health\">serving</span>" : "");
  if (!message.empty()) fmt::format_to(std::back_inserter(out), "<p class=\"message\">{}</p>\n", html_escape(message));
  out += "</header>\n<main>\n";

  for (auto& sec : report_sections(report)) {
    if (sec.title == "Runtime" && options.visits) sec.rows.emplace_back("visits", *options.visits);
    const bool wide = sec.title == "Endpoints" || sec.title == "Notes";
    append_section(out, sec, wide);
    if (sec.title == "Runtime" && options.request != nullptr) {
      const auto& q = *options.request;
      append_section(
          out, {"Request",
                {{"client ip", q.client_ip}, {"method", q.method}, {"path", q.path}, {"user agent", q.user_agent}}});
    }
    if (sec.title == "Container" && report.config) {
      const auto& c = *report.config;
      Section cfg{"Config", {}};
      for (const char* key : {"file", "generation", "loaded_at"}) {
        if (c.contains(key)) cfg.rows.emplace_back(key, c[key].is_string() ? c[key].get<std::string>() : c[key].dump());
      }
      if (c.contains("pending_restart") && !c["pending_restart"].empty()) {
        cfg.rows.emplace_back("pending restart", c["pending_restart"].dump());
      }
      append_section(out, cfg);
      const std::string values =
          c.contains("values") ? render_json(c["values"], JsonStyle::Pretty) : std::string("{}\n");
      fmt::format_to(std::back_inserter(out),
                     "<section class=\"wide\"><h2>Application config</h2><pre>{}</pre></section>\n",
                     html_escape(values));
    }
  }
  out += "</main>\n";
  fmt::format_to(std::back_inserter(out), "<footer>{} {} &middot; the same facts as JSON: {}</footer>\n",
                 html_escape(report.service.name), html_escape(report.service.version),
                 options.live ? "<a href=\"?format=json\">?format=json</a>, or any client that does not ask for HTML"
                              : "<code>devops-info info</code>");
  if (options.live) fmt::format_to(std::back_inserter(out), "<script>{}</script>\n", kScript);
  out += "</body>\n</html>\n";
  return page;
}

}  // namespace devops::core
