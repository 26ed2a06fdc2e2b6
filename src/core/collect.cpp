#include "core/collect.hpp"

#include <unistd.h>

#include "core/build_info.hpp"
#include "core/collectors.hpp"
#include "core/endpoints.hpp"
#include "core/timefmt.hpp"

namespace devops::core {

std::chrono::system_clock::time_point process_start() {
  // Initialised on first use; main() calls this early so it marks the start.
  static const auto start = std::chrono::system_clock::now();
  return start;
}

Report collect_report(const Host& host, std::chrono::system_clock::time_point started, int pid) {
  Report r;
  const auto& b = build_info();
  r.service = {kServiceName, b.version, kServiceDescription, kFramework};

  collect_uname(host, r.system, r.notes);
  collect_cpus(host, r.system, r.notes);
  collect_os_release(host, r.system, r.notes);
  collect_memory(host, r.system, r.notes);
  collect_load(host, r.system, r.notes);
  collect_host_uptime(host, r.system, r.notes);

  const auto now = host.now ? host.now() : std::chrono::system_clock::now();
  r.runtime.uptime_seconds = elapsed_seconds(started, now);
  r.runtime.uptime_human = humanize_uptime(r.runtime.uptime_seconds);
  r.runtime.current_time = iso8601_utc(now);
  r.runtime.timezone = "UTC";
  r.runtime.pid = pid != 0 ? pid : static_cast<int>(::getpid());
  collect_user(host, r.runtime.user, r.notes);

  collect_container_runtime(host, r.container);
  collect_kubernetes(host, r.container);
  collect_cgroup(host, r.system.cpu_count, r.container, r.notes);

  r.build = {b.commit, b.compiler, b.build_type, b.cpp_standard};
  const auto eps = endpoints();
  r.endpoints.assign(eps.begin(), eps.end());
  return r;
}

}  // namespace devops::core
