#include "catch.hpp"
#include "core/collectors.hpp"
#include "fixture.hpp"

using namespace devops::core;
using devops::test::fixture;

TEST_CASE("cgroup v1: podman --cpus 0.5 --memory 64m") {
  ContainerInfo c;
  Notes notes;
  collect_cgroup(fixture("podman-v1"), 4, c, notes);
  CHECK(notes.empty());
  CHECK(c.cgroup_version == 1);
  REQUIRE(c.cpu_limit);
  CHECK(*c.cpu_limit == Approx(0.5));
  CHECK(c.memory_limit_bytes == 67108864ULL);
  CHECK(c.effective_cpu_count == 1);
}

TEST_CASE("cgroup v1: the process's own cgroup beats v1's 'unlimited' at the root") {
  ContainerInfo c;
  Notes notes;
  collect_cgroup(fixture("kubepods-v1"), 4, c, notes);
  CHECK(c.cgroup_version == 1);
  REQUIRE(c.cpu_limit);
  CHECK(*c.cpu_limit == Approx(2.5));
  CHECK(c.memory_limit_bytes == 1073741824ULL);
  CHECK(c.effective_cpu_count == 3);
}

TEST_CASE("cgroup v2: limits of the unit and its parents") {
  ContainerInfo c;
  Notes notes;
  collect_cgroup(fixture("host-v2"), 4, c, notes);
  CHECK(notes.empty());
  CHECK(c.cgroup_version == 2);
  REQUIRE(c.cpu_limit);
  CHECK(*c.cpu_limit == Approx(1.5));
  CHECK(c.memory_limit_bytes == 536870912ULL);
  CHECK(c.effective_cpu_count == 2);
}

TEST_CASE("cgroup v2: 'max' means no limit") {
  ContainerInfo c;
  Notes notes;
  collect_cgroup(fixture("docker-v2"), 4, c, notes);
  CHECK(notes.empty());
  CHECK(c.cgroup_version == 2);
  CHECK_FALSE(c.cpu_limit);
  CHECK_FALSE(c.memory_limit_bytes);
  CHECK(c.effective_cpu_count == 4);
}

TEST_CASE("the affinity mask lowers the effective CPU count") {
  auto host = fixture("docker-v2");
  host.affinity_cpus = []() -> std::optional<unsigned> { return 2U; };
  ContainerInfo c;
  Notes notes;
  collect_cgroup(host, 4, c, notes);
  CHECK(c.effective_cpu_count == 2);
}

TEST_CASE("no cgroup filesystem is a note, not a failure") {
  ContainerInfo c;
  Notes notes;
  collect_cgroup(fixture("empty"), std::nullopt, c, notes);
  CHECK_FALSE(c.cgroup_version);
  CHECK_FALSE(c.cpu_limit);
  CHECK_FALSE(c.effective_cpu_count);
  CHECK(notes.size() == 2);
}
