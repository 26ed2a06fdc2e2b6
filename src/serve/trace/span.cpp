#include "serve/trace/span.hpp"

#include <nlohmann/json.hpp>

namespace devops::serve::trace {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

nlohmann::json string_attribute(std::string_view key, std::string_view value) {
  return {{"key", key}, {"value", {{"stringValue", value}}}};
}

}  // namespace

Resource parse_resource_attributes(std::string_view text) {
  Resource out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const auto pair = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const auto key = trimmed(pair.substr(0, eq));
    if (key.empty()) continue;
    out.emplace_back(std::string(key), percent_decoded(trimmed(pair.substr(eq + 1))));
  }
  return out;
}

Resource make_resource(std::string_view service_name, std::string_view version, std::string_view attributes) {
  auto given = parse_resource_attributes(attributes);
  std::string name(service_name);
  if (name.empty()) {
    for (const auto& [k, v] : given) {
      if (k == "service.name") name = v;
    }
  }
  if (name.empty()) name = "devops-info";
  Resource r{{"service.name", name}, {"service.version", std::string(version)}};
  for (auto& kv : given) {
    if (kv.first != "service.name" && kv.first != "service.version") r.push_back(std::move(kv));
  }
  return r;
}

std::string encode_otlp_json(const Resource& resource, std::span<const Span> spans, std::string_view scope_version) {
  using nlohmann::json;
  json attrs = json::array();
  for (const auto& [k, v] : resource) attrs.push_back(string_attribute(k, v));
  json list = json::array();
  for (const auto& s : spans) {
    json a = json::array();
    for (const auto& at : s.attributes) {
      if (const auto* text = std::get_if<std::string>(&at.value)) {
        a.push_back(string_attribute(at.key, *text));
      } else {
        a.push_back({{"key", at.key}, {"value", {{"intValue", std::to_string(std::get<std::int64_t>(at.value))}}}});
      }
    }
    json span = {
        {"traceId", hex(s.context.trace)},
        {"spanId", hex(s.context.span)},
        {"name", s.name},
        {"kind", static_cast<int>(s.kind)},
        {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
        {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
        {"attributes", std::move(a)},
        {"flags", s.context.sampled ? 1 : 0},
    };
    if (s.parent != SpanId{}) span["parentSpanId"] = hex(s.parent);
    if (s.error) {
      span["status"] = {{"code", 2}};
      if (!s.status_message.empty()) span["status"]["message"] = s.status_message;
    }
    list.push_back(std::move(span));
  }
  json doc = {
      {"resourceSpans",
       json::array({{{"resource", {{"attributes", std::move(attrs)}}},
                     {"scopeSpans", json::array({{{"scope", {{"name", "devops-info"}, {"version", scope_version}}},
                                                  {"spans", std::move(list)}}})}}})}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace devops::serve::trace
