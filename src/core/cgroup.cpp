// cgroup v1 and v2 limits of this process.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/collectors.hpp"

namespace devops::core {

namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
// v1 reports "no limit" as a page-rounded LONG_MAX; anything this large is none.
constexpr std::uint64_t kUnlimitedFloor = std::uint64_t{1} << 62;

std::string first_line(const std::string& s) {
  auto end = s.find_first_of("\r\n");
  return end == std::string::npos ? s : s.substr(0, end);
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The cgroup path of this process for a v1 controller, or for v2 ("").
std::optional<std::string> self_cgroup_path(const Host& host, std::string_view controller) {
  auto r = host.read("/proc/self/cgroup");
  if (!r) return std::nullopt;
  std::istringstream in(*r.content);
  std::string line;
  while (std::getline(in, line)) {
    // hierarchy-ID:controller-list:path
    auto c1 = line.find(':');
    auto c2 = line.find(':', c1 == std::string::npos ? 0 : c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    std::string_view list(line.data() + c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (controller.empty()) {
      if (list.empty() && line.compare(0, c1, "0") == 0) return path;
      continue;
    }
    std::string_view rest = list;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      if (rest.substr(0, comma) == controller) return path;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return std::nullopt;
}

// Candidate directories for a limit file, most specific first: this
// process's cgroup and its ancestors, then the mount's root (which is the
// process's own cgroup inside a container with a cgroup namespace).
std::vector<std::string> candidate_dirs(const std::string& mount, const std::optional<std::string>& path) {
  std::vector<std::string> dirs;
  if (path && *path != "/" && !path->empty()) {
    std::string p = *path;
    while (!p.empty() && p != "/") {
      dirs.push_back(mount + p);
      auto slash = p.rfind('/');
      p = slash == std::string::npos ? std::string() : p.substr(0, slash);
    }
  }
  dirs.push_back(mount);
  return dirs;
}

struct Limits {
  std::optional<double> cpu;
  std::optional<std::uint64_t> memory;
  bool cpu_read = false;
  bool memory_read = false;
};

void keep_min(std::optional<double>& cur, double v) {
  cur = cur ? std::min(*cur, v) : v;
}
void keep_min(std::optional<std::uint64_t>& cur, std::uint64_t v) {
  cur = cur ? std::min(*cur, v) : v;
}

Limits read_v2(const Host& host) {
  Limits l;
  const auto dirs = candidate_dirs(kCgroupRoot, self_cgroup_path(host, ""));
  for (const auto& dir : dirs) {
    if (auto r = host.read(dir + "/memory.max")) {
      l.memory_read = true;
      auto v = first_line(*r.content);
      if (v != "max") {
        if (auto n = number<std::uint64_t>(v)) keep_min(l.memory, *n);
      }
    }
    if (auto r = host.read(dir + "/cpu.max")) {
      l.cpu_read = true;
      std::istringstream in(first_line(*r.content));
      std::string quota;
      std::string period;
      in >> quota >> period;
      if (quota != "max") {
        auto q = number<std::int64_t>(quota);
        auto p = number<std::int64_t>(period);
        if (q && p && *q > 0 && *p > 0) keep_min(l.cpu, static_cast<double>(*q) / static_cast<double>(*p));
      }
    }
  }
  return l;
}

Limits read_v1(const Host& host) {
  Limits l;
  const std::string mem_mount = std::string(kCgroupRoot) + "/memory";
  for (const auto& dir : candidate_dirs(mem_mount, self_cgroup_path(host, "memory"))) {
    if (auto r = host.read(dir + "/memory.limit_in_bytes")) {
      l.memory_read = true;
      if (auto n = number<std::uint64_t>(first_line(*r.content)); n && *n < kUnlimitedFloor) keep_min(l.memory, *n);
    }
  }
  const auto cpu_path = self_cgroup_path(host, "cpu");
  for (const char* mount : {"/cpu", "/cpu,cpuacct"}) {
    bool found = false;
    for (const auto& dir : candidate_dirs(std::string(kCgroupRoot) + mount, cpu_path)) {
      auto q = host.read(dir + "/cpu.cfs_quota_us");
      auto p = host.read(dir + "/cpu.cfs_period_us");
      if (!q || !p) continue;
      found = true;
      l.cpu_read = true;
      auto quota = number<std::int64_t>(first_line(*q.content));
      auto period = number<std::int64_t>(first_line(*p.content));
      if (quota && period && *quota > 0 && *period > 0) {
        keep_min(l.cpu, static_cast<double>(*quota) / static_cast<double>(*period));
      }
    }
    if (found) break;
  }
  return l;
}

}  // namespace

void collect_cgroup(const Host& host, std::optional<int> host_cpus, ContainerInfo& c, Notes& notes) {
  const std::string root(kCgroupRoot);
  Limits limits;
  if (host.exists(root + "/cgroup.controllers")) {
    c.cgroup_version = 2;
    limits = read_v2(host);
  } else if (host.exists(root + "/memory") || host.exists(root + "/cpu") || host.exists(root + "/cpu,cpuacct")) {
    c.cgroup_version = 1;
    limits = read_v1(host);
  } else {
    notes.push_back({"container.cgroup_version", "no cgroup filesystem at /sys/fs/cgroup"});
  }
  if (c.cgroup_version && !limits.cpu_read) notes.push_back({"container.cpu_limit", "no readable CPU controller"});
  if (c.cgroup_version && !limits.memory_read) {
    notes.push_back({"container.memory_limit_bytes", "no readable memory controller"});
  }
  c.cpu_limit = limits.cpu;
  c.memory_limit_bytes = limits.memory;

  std::optional<int> effective = host_cpus;
  if (auto aff = host.affinity_cpus ? host.affinity_cpus() : std::nullopt) {
    effective = effective ? std::min(*effective, static_cast<int>(*aff)) : static_cast<int>(*aff);
  }
  if (c.cpu_limit) {
    const int by_quota = std::max(1, static_cast<int>(std::ceil(*c.cpu_limit)));
    effective = effective ? std::min(*effective, by_quota) : by_quota;
  }
  c.effective_cpu_count = effective;
  if (!effective) notes.push_back({"container.effective_cpu_count", "CPU count unknown"});
}

}  // namespace devops::core
