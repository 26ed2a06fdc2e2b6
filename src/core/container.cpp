// Does this process run in a container, and which runtime made it?
#include <string>

#include "core/collectors.hpp"

namespace devops::core {

namespace {

ContainerRuntime from_container_env(std::string_view v) {
  if (v == "podman") return ContainerRuntime::Podman;
  if (v == "docker") return ContainerRuntime::Docker;
  return ContainerRuntime::Other;  // oci, lxc, systemd-nspawn, ...
}

// The value of `container=` in PID 1's environment (NUL-separated).
std::optional<std::string> pid1_container_env(const Host& host) {
  auto r = host.read("/proc/1/environ");
  if (!r) return std::nullopt;  // not ours to read as non-root: not an error
  const std::string& env = *r.content;
  std::size_t pos = 0;
  while (pos < env.size()) {
    auto end = env.find('\0', pos);
    if (end == std::string::npos) end = env.size();
    if (env.compare(pos, 10, "container=") == 0) return env.substr(pos + 10, end - pos - 10);
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(ContainerRuntime r) {
  switch (r) {
    case ContainerRuntime::None: return "none";
    case ContainerRuntime::Docker: return "docker";
    case ContainerRuntime::Podman: return "podman";
    case ContainerRuntime::Kubernetes: return "kubernetes";
    case ContainerRuntime::Other: return "other";
  }
  return "other";
}

void collect_container_runtime(const Host& host, ContainerInfo& c) {
  auto env = [&](const std::string& name) { return host.getenv ? host.getenv(name) : std::nullopt; };
  auto found = [&](ContainerRuntime r) {
    c.in_container = true;
    c.runtime = r;
  };
  // Most specific first: a Kubernetes pod may run under any of the others.
  if (env("KUBERNETES_SERVICE_HOST")) return found(ContainerRuntime::Kubernetes);
  if (host.exists("/run/.containerenv")) return found(ContainerRuntime::Podman);
  if (host.exists("/.dockerenv")) return found(ContainerRuntime::Docker);
  if (auto v = env("container")) return found(from_container_env(*v));
  if (auto v = pid1_container_env(host)) return found(from_container_env(*v));
  if (auto r = host.read("/proc/1/cgroup")) {
    const std::string& cg = *r.content;
    if (cg.find("kubepods") != std::string::npos) return found(ContainerRuntime::Kubernetes);
    if (cg.find("libpod") != std::string::npos) return found(ContainerRuntime::Podman);
    if (cg.find("docker") != std::string::npos) return found(ContainerRuntime::Docker);
    if (cg.find("lxc") != std::string::npos) return found(ContainerRuntime::Other);
  }
  c.in_container = false;
  c.runtime = ContainerRuntime::None;
}

void collect_kubernetes(const Host& host, ContainerInfo& c) {
  c.kubernetes.reset();
  if (c.runtime != ContainerRuntime::Kubernetes) return;
  auto env = [&](const std::string& name) -> std::optional<std::string> {
    auto v = host.getenv ? host.getenv(name) : std::nullopt;
    if (v && v->empty()) return std::nullopt;  // set but empty says nothing either
    return v;
  };
  c.kubernetes = KubernetesInfo{env("POD_NAME"), env("POD_NAMESPACE"), env("NODE_NAME")};
}

}  // namespace devops::core
