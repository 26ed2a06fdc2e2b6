// The routes a person asks on demand (--introspection): /status/{code},
// /delay/{duration}, /env and /headers; and who the client is behind a
// trusted proxy.
#include <charconv>

#include <fmt/format.h>

#include "core/config_values.hpp"
#include "core/render.hpp"
#include "core/timefmt.hpp"
#include "serve/app/client_address.hpp"
#include "serve/app/service.hpp"

namespace devops::serve {

namespace {

HttpResponse json_response(int status, const core::Json& doc) {
  return {status, "application/json", core::render_json(doc, core::JsonStyle::Compact), {}};
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
  // Each name once; a field sent more than once gives the list of its values, in order.
  core::Json fields = core::Json::object();
  for (const auto& f : req.fields) {
    const std::string name(f.name);
    auto& slot = fields[name];
    if (slot.is_null()) {
      slot = f.value;
    } else {
      if (!slot.is_array()) slot = core::Json::array({slot});
      slot.push_back(f.value);
    }
  }
  return json_response(200, {{"headers", std::move(fields)}, {"protocol", req.protocol}});
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
