#include <cmath>

#include "core/render.hpp"

namespace devops::core {

namespace {

template <class T>
Json opt(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json kubernetes_json(const std::optional<KubernetesInfo>& k) {
  if (!k) return nullptr;
  return {{"pod_name", opt(k->pod_name)}, {"namespace", opt(k->pod_namespace)}, {"node_name", opt(k->node_name)}};
}

Json cpu_limit_json(const std::optional<double>& v) {
  if (!v) return nullptr;
  // 0.5 stays 0.5; 1/3 is rounded to millicores, the unit people set limits in.
  return std::round(*v * 1000.0) / 1000.0;
}

}  // namespace

Json report_to_json(const Report& r, const RequestInfo* request) {
  Json doc;
  doc["service"] = {{"name", r.service.name},
                    {"version", r.service.version},
                    {"description", r.service.description},
                    {"framework", r.service.framework}};

  const auto& s = r.system;
  Json load = nullptr;
  if (s.load_average) {
    load = {{"1m", s.load_average->one}, {"5m", s.load_average->five}, {"15m", s.load_average->fifteen}};
  }
  doc["system"] = {{"hostname", opt(s.hostname)},
                   {"platform", opt(s.platform)},
                   {"platform_version", opt(s.platform_version)},
                   {"platform_release", opt(s.platform_release)},
                   {"architecture", opt(s.architecture)},
                   {"cpu_count", opt(s.cpu_count)},
                   {"kernel_version", opt(s.kernel_version)},
                   {"os",
                    {{"name", opt(s.os.name)},
                     {"version", opt(s.os.version)},
                     {"id", opt(s.os.id)},
                     {"pretty_name", opt(s.os.pretty_name)}}},
                   {"memory_total_bytes", opt(s.memory_total_bytes)},
                   {"memory_available_bytes", opt(s.memory_available_bytes)},
                   {"load_average", load},
                   {"uptime_seconds", opt(s.uptime_seconds)},
                   {"boot_time", opt(s.boot_time)}};

  const auto& rt = r.runtime;
  doc["runtime"] = {{"uptime_seconds", rt.uptime_seconds},
                    {"uptime_human", rt.uptime_human},
                    {"current_time", rt.current_time},
                    {"timezone", rt.timezone},
                    {"pid", rt.pid},
                    {"user", {{"uid", rt.user.uid}, {"gid", rt.user.gid}, {"name", opt(rt.user.name)}}}};

  if (request != nullptr) {
    doc["request"] = {{"client_ip", request->client_ip},
                      {"user_agent", request->user_agent},
                      {"method", request->method},
                      {"path", request->path}};
  }

  const auto& c = r.container;
  doc["container"] = {{"in_container", c.in_container},
                      {"runtime", to_string(c.runtime)},
                      {"cgroup_version", opt(c.cgroup_version)},
                      {"cpu_limit", cpu_limit_json(c.cpu_limit)},
                      {"memory_limit_bytes", opt(c.memory_limit_bytes)},
                      {"effective_cpu_count", opt(c.effective_cpu_count)},
                      {"kubernetes", kubernetes_json(c.kubernetes)}};

  doc["build"] = {{"commit", r.build.commit},
                  {"compiler", r.build.compiler},
                  {"build_type", r.build.build_type},
                  {"cpp_standard", r.build.cpp_standard}};

  if (r.config) doc["config"] = *r.config;

  Json eps = Json::array();
  for (const auto& e : r.endpoints) {
    eps.push_back({{"path", std::string(e.path)},
                   {"method", std::string(e.method)},
                   {"description", std::string(e.description)}});
  }
  doc["endpoints"] = std::move(eps);

  Json notes = Json::array();
  for (const auto& n : r.notes) notes.push_back({{"field", n.field}, {"error", n.error}});
  doc["notes"] = std::move(notes);
  return doc;
}

std::string render_json(const Json& doc, JsonStyle style) {
  const int indent = style == JsonStyle::Pretty ? 2 : -1;
  return doc.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace devops::core
