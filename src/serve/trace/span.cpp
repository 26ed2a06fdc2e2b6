#include "serve/trace/span.hpp"

#include <string>

#include "serve/log/json_text.hpp"

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
  // Written straight into one string: the exporter's thread encodes every
  // span the service answers, and a JSON tree per span cost more than the
  // request it describes. Text goes through append_json_string, which
  // escapes control characters and replaces invalid UTF-8.
  std::string out;
  out.reserve(256 + spans.size() * 640);
  const auto key_value = [&out](std::string_view key) {
    out += "{\"key\":";
    append_json_string(out, key);
    out += ",\"value\":{";
  };
  out += R"({"resourceSpans":[{"resource":{"attributes":[)";
  bool first = true;
  for (const auto& [k, v] : resource) {
    if (!first) out += ',';
    first = false;
    key_value(k);
    out += "\"stringValue\":";
    append_json_string(out, v);
    out += "}}";
  }
  out += R"(]},"scopeSpans":[{"scope":{"name":"devops-info","version":)";
  append_json_string(out, scope_version);
  out += R"(},"spans":[)";
  char id[32];
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto& s = spans[i];
    if (i != 0) out += ',';
    out += R"({"traceId":")";
    hex_into(s.context.trace, id);
    out.append(id, 32);
    out += R"(","spanId":")";
    hex_into(s.context.span, id);
    out.append(id, 16);
    out += '"';
    if (s.parent != SpanId{}) {
      out += R"(,"parentSpanId":")";
      hex_into(s.parent, id);
      out.append(id, 16);
      out += '"';
    }
    out += R"(,"name":)";
    append_json_string(out, s.name);
    out += R"(,"kind":)";
    out += std::to_string(static_cast<int>(s.kind));
    out += R"(,"startTimeUnixNano":")";
    out += std::to_string(s.start_unix_ns);
    out += R"(","endTimeUnixNano":")";
    out += std::to_string(s.end_unix_ns);
    out += R"(","attributes":[)";
    for (std::size_t a = 0; a < s.attributes.size(); ++a) {
      const auto& at = s.attributes[a];
      if (a != 0) out += ',';
      key_value(at.key);
      if (const auto* text = std::get_if<std::string>(&at.value)) {
        out += "\"stringValue\":";
        append_json_string(out, *text);
      } else {
        out += "\"intValue\":\"";
        out += std::to_string(std::get<std::int64_t>(at.value));
        out += '"';
      }
      out += "}}";
    }
    out += R"(],"flags":)";
    out += s.context.sampled ? '1' : '0';
    if (s.error) {
      out += R"(,"status":{"code":2)";
      if (!s.status_message.empty()) {
        out += R"(,"message":)";
        append_json_string(out, s.status_message);
      }
      out += '}';
    }
    out += '}';
  }
  out += "]}]}]}";
  return out;
}

}  // namespace devops::serve::trace
