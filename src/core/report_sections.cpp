// The report's facts grouped for a person: what the table and the Markdown
// renderers lay out, each in its own way.
#include <fmt/format.h>

#include <utility>

#include "core/report_sections.hpp"
#include "core/timefmt.hpp"

namespace devops::core {

namespace {

std::optional<std::string> str(const std::optional<std::string>& v) {
  return v;
}

template <class T>
std::optional<std::string> num(const std::optional<T>& v) {
  return v ? std::optional<std::string>(fmt::format("{}", *v)) : std::nullopt;
}

std::optional<std::string> bytes(const std::optional<std::uint64_t>& v) {
  return v ? std::optional<std::string>(human_bytes(*v)) : std::nullopt;
}

Section container_section(const ContainerInfo& c) {
  // A limit is "none" when cgroups say so and unknown without cgroups.
  auto limit = [&](bool set, auto&& text) -> std::optional<std::string> {
    if (!c.cgroup_version) return std::nullopt;
    return set ? std::string(text()) : std::string("none");
  };
  const auto cpu_limit =
      limit(c.cpu_limit.has_value(), [&] { return fmt::format("{:.3g} CPUs", c.cpu_limit.value_or(0)); });
  const auto mem_limit =
      limit(c.memory_limit_bytes.has_value(), [&] { return human_bytes(c.memory_limit_bytes.value_or(0)); });
  Section sec{
      "Container",
      {{"in container", c.in_container ? "yes" : "no"},
       {"runtime", to_string(c.runtime)},
       {"cgroup", c.cgroup_version ? std::optional<std::string>(fmt::format("v{}", *c.cgroup_version)) : std::nullopt},
       {"cpu limit", cpu_limit},
       {"memory limit", mem_limit},
       {"effective cpus", num(c.effective_cpu_count)}}};
  if (c.kubernetes) {
    // Rows only in a pod, so the table elsewhere keeps its shape.
    sec.rows.emplace_back("pod", c.kubernetes->pod_name);
    sec.rows.emplace_back("namespace", c.kubernetes->pod_namespace);
    sec.rows.emplace_back("node", c.kubernetes->node_name);
  }
  return sec;
}

}  // namespace

std::vector<Section> report_sections(const Report& r) {
  const auto& s = r.system;
  std::optional<std::string> load;
  if (s.load_average) {
    load = fmt::format("{:.2f}, {:.2f}, {:.2f}", s.load_average->one, s.load_average->five, s.load_average->fifteen);
  }
  std::optional<std::string> host_up;
  if (s.uptime_seconds) host_up = humanize_uptime(*s.uptime_seconds);
  const std::string user =
      fmt::format("{} (uid {}, gid {})", r.runtime.user.name.value_or("?"), r.runtime.user.uid, r.runtime.user.gid);

  std::vector<Section> out{
      {"Service",
       {{"name", r.service.name},
        {"version", r.service.version},
        {"description", r.service.description},
        {"framework", r.service.framework}}},
      {"System",
       {{"hostname", str(s.hostname)},
        {"os", str(s.os.pretty_name ? s.os.pretty_name : s.os.name)},
        {"platform", str(s.platform)},
        {"kernel", str(s.platform_release)},
        {"architecture", str(s.architecture)},
        {"cpus", num(s.cpu_count)},
        {"memory total", bytes(s.memory_total_bytes)},
        {"memory available", bytes(s.memory_available_bytes)},
        {"load average", load},
        {"uptime", host_up},
        {"boot time", str(s.boot_time)}}},
      {"Runtime",
       {{"uptime", r.runtime.uptime_human},
        {"current time", r.runtime.current_time},
        {"timezone", r.runtime.timezone},
        {"pid", fmt::format("{}", r.runtime.pid)},
        {"user", user}}},
      container_section(r.container),
      {"Build",
       {{"commit", r.build.commit},
        {"compiler", r.build.compiler},
        {"build type", r.build.build_type},
        {"standard", r.build.cpp_standard}}},
  };
  Section eps{"Endpoints", {}};
  for (const auto& e : r.endpoints) {
    eps.rows.emplace_back(fmt::format("{} {}", e.method, e.path), std::string(e.description));
  }
  out.push_back(std::move(eps));
  if (!r.notes.empty()) {
    Section notes{"Notes", {}};
    for (const auto& n : r.notes) notes.rows.emplace_back(n.field, n.error);
    out.push_back(std::move(notes));
  }
  return out;
}

}  // namespace devops::core
