#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/endpoints.hpp"

namespace devops::core {

// A fact that could not be read: its place in the report and why.
struct Note {
  std::string field;  // dotted path, e.g. "system.memory_total_bytes"
  std::string error;  // e.g. "cannot read /proc/meminfo: No such file or directory"
};

struct ServiceInfo {
  std::string name;
  std::string version;
  std::string description;
  std::string framework;
};

// /etc/os-release (or /usr/lib/os-release).
struct OsInfo {
  std::optional<std::string> name;         // NAME
  std::optional<std::string> version;      // VERSION_ID
  std::optional<std::string> id;           // ID
  std::optional<std::string> pretty_name;  // PRETTY_NAME
};

struct LoadAverage {
  double one{};
  double five{};
  double fifteen{};
};

struct SystemInfo {
  std::optional<std::string> hostname;
  std::optional<std::string> platform;          // uname sysname, "Linux"
  std::optional<std::string> platform_version;  // uname version (build string), Python's platform.version()
  std::optional<std::string> platform_release;  // uname release, e.g. "6.1.0-18-amd64"
  std::optional<std::string> architecture;      // uname machine
  std::optional<int> cpu_count;                 // online CPUs of the host
  std::optional<std::string> kernel_version;    // uname version (build string)
  OsInfo os;
  std::optional<std::uint64_t> memory_total_bytes;
  std::optional<std::uint64_t> memory_available_bytes;
  std::optional<LoadAverage> load_average;
  std::optional<std::int64_t> uptime_seconds;  // host uptime
  std::optional<std::string> boot_time;        // ISO 8601, UTC
};

struct UserInfo {
  unsigned uid{};
  unsigned gid{};
  std::optional<std::string> name;  // from /etc/passwd; null in a scratch image
};

struct RuntimeInfo {
  std::int64_t uptime_seconds{};  // of this process (the service)
  std::string uptime_human;
  std::string current_time;  // ISO 8601, UTC
  std::string timezone;      // "UTC"
  int pid{};
  UserInfo user;
};

enum class ContainerRuntime { None, Docker, Podman, Kubernetes, Other };

// The pod as the Kubernetes downward API gives it in the environment
// (POD_NAME, POD_NAMESPACE, NODE_NAME); a variable that is not set is null.
struct KubernetesInfo {
  std::optional<std::string> pod_name;
  std::optional<std::string> pod_namespace;
  std::optional<std::string> node_name;
};

struct ContainerInfo {
  bool in_container{};
  ContainerRuntime runtime{ContainerRuntime::None};
  std::optional<int> cgroup_version;                // 1 or 2
  std::optional<double> cpu_limit;                  // CPUs; null = no limit
  std::optional<std::uint64_t> memory_limit_bytes;  // null = no limit
  std::optional<int> effective_cpu_count;           // CPUs usable under limit and affinity
  std::optional<KubernetesInfo> kubernetes;         // set when runtime is Kubernetes
};

struct BuildSection {
  std::string commit;
  std::string compiler;
  std::string build_type;
  std::string cpp_standard;
};

// Everything `info` prints and `GET /` serves (less the request).
struct Report {
  ServiceInfo service;
  SystemInfo system;
  RuntimeInfo runtime;
  ContainerInfo container;
  BuildSection build;
  std::vector<Endpoint> endpoints;
  std::vector<Note> notes;
  // With a config file: what loaded_config_to_json() gives (core/config_file.hpp).
  std::optional<nlohmann::ordered_json> config;
};

// "docker", "podman", "kubernetes", "other"; "none" outside a container.
const char* to_string(ContainerRuntime r);

}  // namespace devops::core
