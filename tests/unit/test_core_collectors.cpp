#include <map>

#include "catch.hpp"
#include "core/collect.hpp"
#include "core/collectors.hpp"
#include "fixture.hpp"

using namespace devops::core;
using devops::test::fixture;

namespace {
bool has_note(const Notes& notes, const std::string& field) {
  for (const auto& n : notes) {
    if (n.field == field) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("uname facts come from the host") {
  SystemInfo sys;
  Notes notes;
  collect_uname(fixture("host-v2"), sys, notes);
  CHECK(notes.empty());
  CHECK(sys.hostname == "build-host");
  CHECK(sys.platform == "Linux");
  CHECK(sys.platform_version == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");  // platform.version()
  CHECK(sys.platform_release == "6.1.0-18-amd64");
  CHECK(sys.architecture == "x86_64");
  CHECK(sys.kernel_version == "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)");
}

TEST_CASE("cpu lists are counted") {
  CHECK(count_cpu_list("0") == 1);
  CHECK(count_cpu_list("0-3\n") == 4);
  CHECK(count_cpu_list("0-3,6,8-9") == 7);
  CHECK_FALSE(count_cpu_list(""));
  CHECK_FALSE(count_cpu_list("3-1"));
  CHECK_FALSE(count_cpu_list("a-b"));
}

TEST_CASE("memory, load, uptime and boot time from /proc") {
  SystemInfo sys;
  Notes notes;
  const auto host = fixture("host-v2");
  collect_cpus(host, sys, notes);
  collect_memory(host, sys, notes);
  collect_load(host, sys, notes);
  collect_host_uptime(host, sys, notes);
  CHECK(notes.empty());
  CHECK(sys.cpu_count == 4);
  CHECK(sys.memory_total_bytes == 16318480ULL * 1024);
  CHECK(sys.memory_available_bytes == 9437184ULL * 1024);
  REQUIRE(sys.load_average);
  CHECK(sys.load_average->one == Approx(0.52));
  CHECK(sys.load_average->fifteen == Approx(0.59));
  CHECK(sys.uptime_seconds == 93784);
  CHECK(sys.boot_time == "2026-11-27T12:31:52+00:00");
}

TEST_CASE("os-release values are unquoted, with /usr/lib as the fallback") {
  CHECK(os_release_value("NAME=\"Debian GNU/Linux\"\nID=debian\n", "NAME") == "Debian GNU/Linux");
  CHECK(os_release_value("ID=debian\n", "ID") == "debian");
  CHECK(os_release_value("NAME='Alpine Linux'\n", "NAME") == "Alpine Linux");
  CHECK(os_release_value("PRETTY_NAME=\"say \\\"hi\\\" \\$x\"\n", "PRETTY_NAME") == "say \"hi\" $x");
  CHECK_FALSE(os_release_value("IDLIKE=x\n", "ID"));

  SystemInfo sys;
  Notes notes;
  collect_os_release(fixture("docker-v2"), sys, notes);
  CHECK(notes.empty());
  CHECK(sys.os.pretty_name == "Debian GNU/Linux 13 (trixie)");
  CHECK(sys.os.version == "13");
}

TEST_CASE("user name comes from /etc/passwd; a missing entry is a note") {
  UserInfo user;
  Notes notes;
  collect_user(fixture("host-v2"), user, notes);
  CHECK(user.uid == 1000);
  CHECK(user.name == "app");
  CHECK(notes.empty());

  UserInfo nobody;
  collect_user(fixture("docker-v2"), nobody, notes);
  CHECK_FALSE(nobody.name);
  CHECK(has_note(notes, "runtime.user.name"));
}

TEST_CASE("container runtime detection") {
  ContainerInfo c;
  SECTION("no container on a plain host") {
    collect_container_runtime(fixture("host-v2"), c);
    CHECK_FALSE(c.in_container);
    CHECK(c.runtime == ContainerRuntime::None);
  }
  SECTION("podman by /run/.containerenv") {
    collect_container_runtime(fixture("podman-v1"), c);
    CHECK(c.in_container);
    CHECK(c.runtime == ContainerRuntime::Podman);
  }
  SECTION("docker by /.dockerenv") {
    collect_container_runtime(fixture("docker-v2"), c);
    CHECK(c.runtime == ContainerRuntime::Docker);
  }
  SECTION("kubernetes by PID 1's cgroup") {
    collect_container_runtime(fixture("kubepods-v1"), c);
    CHECK(c.runtime == ContainerRuntime::Kubernetes);
  }
  SECTION("kubernetes by its service environment, before the runtime's marker") {
    auto host = fixture("docker-v2");
    host.getenv = [](const std::string& n) -> std::optional<std::string> {
      if (n == "KUBERNETES_SERVICE_HOST") return "10.96.0.1";
      return std::nullopt;
    };
    collect_container_runtime(host, c);
    CHECK(c.runtime == ContainerRuntime::Kubernetes);
  }
  SECTION("the container variable names others") {
    auto host = fixture("host-v2");
    host.getenv = [](const std::string& n) -> std::optional<std::string> {
      if (n == "container") return "lxc";
      return std::nullopt;
    };
    collect_container_runtime(host, c);
    CHECK(c.in_container);
    CHECK(c.runtime == ContainerRuntime::Other);
  }
}

TEST_CASE("the downward API's pod, namespace and node, in a pod only") {
  auto env_of = [](std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& n) -> std::optional<std::string> {
      auto it = vars.find(n);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  };
  const std::map<std::string, std::string> downward{
      {"POD_NAME", "devops-info-7d9c5b6f4-x2x8q"}, {"POD_NAMESPACE", "web"}, {"NODE_NAME", "node-a"}};
  SECTION("all three given") {
    auto host = fixture("kubepods-v1");
    host.getenv = env_of(downward);
    const auto r = collect_report(host, devops::test::fixed_now(), 1);
    REQUIRE(r.container.kubernetes);
    CHECK(r.container.kubernetes->pod_name == "devops-info-7d9c5b6f4-x2x8q");
    CHECK(r.container.kubernetes->pod_namespace == "web");
    CHECK(r.container.kubernetes->node_name == "node-a");
  }
  SECTION("in a pod without them (or empty): an object of nulls") {
    auto host = fixture("kubepods-v1");
    host.getenv = env_of({{"POD_NAME", ""}});
    const auto r = collect_report(host, devops::test::fixed_now(), 1);
    REQUIRE(r.container.kubernetes);
    CHECK_FALSE(r.container.kubernetes->pod_name);
    CHECK_FALSE(r.container.kubernetes->pod_namespace);
    CHECK_FALSE(r.container.kubernetes->node_name);
  }
  SECTION("POD_NAME outside Kubernetes is not taken for a pod") {
    for (const char* name : {"host-v2", "podman-v1", "docker-v2"}) {
      INFO(name);
      auto host = fixture(name);
      host.getenv = env_of(downward);
      const auto r = collect_report(host, devops::test::fixed_now(), 1);
      CHECK(r.container.runtime != ContainerRuntime::Kubernetes);
      CHECK_FALSE(r.container.kubernetes);
    }
  }
  SECTION("a pod recognised by KUBERNETES_SERVICE_HOST under another runtime") {
    auto vars = downward;
    vars["KUBERNETES_SERVICE_HOST"] = "10.96.0.1";
    auto host = fixture("docker-v2");
    host.getenv = env_of(vars);
    const auto r = collect_report(host, devops::test::fixed_now(), 1);
    REQUIRE(r.container.kubernetes);
    CHECK(r.container.kubernetes->node_name == "node-a");
  }
}

TEST_CASE("an empty root gives nulls and notes, never a failure") {
  const auto r = collect_report(fixture("empty"), devops::test::fixed_now(), 42);
  CHECK_FALSE(r.system.hostname);
  CHECK_FALSE(r.system.cpu_count);
  CHECK_FALSE(r.system.memory_total_bytes);
  CHECK_FALSE(r.system.load_average);
  CHECK_FALSE(r.system.boot_time);
  CHECK_FALSE(r.container.cgroup_version);
  CHECK_FALSE(r.container.in_container);
  for (const char* field :
       {"system.hostname", "system.cpu_count", "system.memory_total_bytes", "system.os", "system.load_average",
        "system.uptime_seconds", "system.boot_time", "runtime.user.name", "container.cgroup_version"}) {
    INFO(field);
    CHECK(has_note(r.notes, field));
  }
  CHECK(r.runtime.uptime_human == "0 hours, 0 minutes");
  CHECK(r.endpoints.size() == endpoints().size());
}
