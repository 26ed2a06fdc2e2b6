#pragma once

// The collectors behind collect_report(), one per source. Each fills its part
// of the report and adds a Note for every fact it could not read.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/host.hpp"
#include "core/report.hpp"

namespace devops::core {

using Notes = std::vector<Note>;

// hostname, platform, platform_version, architecture, kernel_version (uname).
void collect_uname(const Host& host, SystemInfo& sys, Notes& notes);
// cpu_count from /sys/devices/system/cpu/online.
void collect_cpus(const Host& host, SystemInfo& sys, Notes& notes);
// memory_total_bytes and memory_available_bytes from /proc/meminfo.
void collect_memory(const Host& host, SystemInfo& sys, Notes& notes);
// load_average from /proc/loadavg.
void collect_load(const Host& host, SystemInfo& sys, Notes& notes);
// uptime_seconds from /proc/uptime, boot_time from /proc/stat (btime).
void collect_host_uptime(const Host& host, SystemInfo& sys, Notes& notes);
// os from /etc/os-release, falling back to /usr/lib/os-release.
void collect_os_release(const Host& host, SystemInfo& sys, Notes& notes);
// uid, gid and the user name from /etc/passwd.
void collect_user(const Host& host, UserInfo& user, Notes& notes);
// in_container and runtime from marker files, the environment and /proc/1.
void collect_container_runtime(const Host& host, ContainerInfo& c);

// The pod's name, namespace and node from the downward API's variables; only
// when c.runtime is Kubernetes (elsewhere POD_NAME may mean anything).
void collect_kubernetes(const Host& host, ContainerInfo& c);
// cgroup_version, cpu_limit, memory_limit_bytes (v1 and v2), then
// effective_cpu_count from the limit, the affinity mask and `host_cpus`.
void collect_cgroup(const Host& host, std::optional<int> host_cpus, ContainerInfo& c, Notes& notes);

// Parsers, exposed for tests.
std::optional<int> count_cpu_list(std::string_view list);  // "0-3,6" -> 5
std::optional<std::string> os_release_value(std::string_view text, std::string_view key);

}  // namespace devops::core
