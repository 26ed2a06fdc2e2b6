// The routes a person asks on demand (--introspection): /status/{code},
// /delay/{duration}, /env, /headers and /echo; and who the client is behind
// a trusted proxy.
#include <charconv>

#include <fmt/format.h>

#include "core/config_values.hpp"
#include "core/render.hpp"
#include "core/sha256.hpp"
#include "core/timefmt.hpp"
#include "serve/app/client_address.hpp"
#include "serve/app/service.hpp"
#include "serve/log/json_text.hpp"

namespace devops::serve {

namespace {

HttpResponse json_response(int status, const core::Json& doc) {
  return {status, "application/json", core::render_json(doc, core::JsonStyle::Compact), {}};
}

// Each name once; a field sent more than once gives the list of its values, in order.
core::Json fields_json(std::span<const HeaderField> fields) {
  core::Json doc = core::Json::object();
  for (const auto& f : fields) {
    auto& slot = doc[std::string(f.name)];
    if (slot.is_null()) {
      slot = f.value;
    } else {
      if (!slot.is_array()) slot = core::Json::array({slot});
      slot.push_back(f.value);
    }
  }
  return doc;
}

}  // namespace

HttpResponse Service::bad_value(const HttpRequest& req, std::string_view detail) const {
  core::Json doc{{"error", reason_phrase(400)}, {"status", 400}, {"path", req.path}};
  doc["detail"] = detail;
  return json_response(400, doc);
}

HttpResponse Service::status(const HttpRequest& req) {
  const auto text = req.path.substr(std::string_view("/status/").size());
  int code = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), code);
  if (text.size() != 3 || r.ec != std::errc() || r.ptr != text.data() + text.size() || code < 200 || code > 599) {
    return bad_value(req, "/status/{code} takes a status code from 200 to 599");
  }
  // RFC 9110 15.3.5, 15.4.5: 204 and 304 carry no content.
  if (code == 204 || code == 304) return {code, "", std::string(), {}};
  return json_response(code, {{"status", code}, {"reason", reason_phrase(code)}});
}

HttpResponse Service::delay(const HttpRequest& req) {
  const auto text = req.path.substr(std::string_view("/delay/").size());
  const auto d = core::parse_duration(text);
  const std::chrono::milliseconds max{max_delay_ms_.load(std::memory_order_relaxed)};
  if (!d) return bad_value(req, "/delay/{duration} takes a duration: 250ms, 2s, 1.5s");
  if (*d > max) return bad_value(req, fmt::format("{} is over --max-delay ({})", text, core::format_duration(max)));
  auto answer = json_response(200, {{"delay", core::format_duration(*d)}, {"delay_ms", d->count()}});
  answer.delay = *d;  // held on the loop's timer: no thread waits
  return answer;
}

HttpResponse Service::env(const HttpRequest&) {
  return json_response(200, select_environment(environment_, env_allow_.current()));
}

HttpResponse Service::headers(const HttpRequest& req) {
  return json_response(200, {{"headers", fields_json(req.fields)}, {"protocol", req.protocol}});
}

HttpResponse Service::echo(const HttpRequest& req) {
  core::Json doc{{"method", req.method},
                 {"path", req.path},
                 {"query", req.query},
                 {"protocol", req.protocol},
                 {"headers", fields_json(req.fields)},
                 {"body_bytes", req.body.size()}};
  // Text as text; anything else (an image, a protobuf) as base64, so the answer stays JSON.
  if (valid_utf8(req.body)) {
    doc["body"] = req.body;
    doc["body_encoding"] = "utf-8";
  } else {
    doc["body"] = core::base64(reinterpret_cast<const std::uint8_t*>(req.body.data()), req.body.size());
    doc["body_encoding"] = "base64";
  }
  return json_response(200, doc);
}

RequestNeeds Service::needs(std::string_view path) const noexcept {
  // Asked for every request: two comparisons, no lookup.
  if (path == routes_[headers_route_].endpoint.path) return {true, std::nullopt};
  if (path == routes_[upstreams_route_].endpoint.path) return {true, std::nullopt};  // the hop count
  if (path == routes_[echo_route_].endpoint.path && introspection_.load(std::memory_order_relaxed)) {
    return {true, max_body_.load(std::memory_order_relaxed)};
  }
  return {};
}

bool Service::allows(const Route& r, std::string_view method) {
  if (r.endpoint.method == "GET") return method == "GET" || method == "HEAD";
  for (auto rest = r.endpoint.method; !rest.empty();) {
    const auto comma = rest.find(", ");
    if (rest.substr(0, comma) == method) return true;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  return false;
}

void Service::set_trusted_proxies(const std::vector<std::string>& ranges) {
  std::vector<core::Cidr> parsed;
  for (const auto& r : ranges) {
    if (auto c = core::parse_cidr(r)) parsed.push_back(*c);
  }
  trusted_proxies_.publish(std::move(parsed));
}

std::string Service::client_of(const HttpRequest& req) const {
  return client_address(req.client_ip, req.forwarded_for, req.forwarded, trusted_proxies_.current());
}

}  // namespace devops::serve
