// Collectors for facts from uname, /proc, /sys and /etc/passwd.
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/collectors.hpp"
#include "core/timefmt.hpp"

namespace devops::core {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

template <class T>
std::optional<T> parse_number(std::string_view s) {
  s = trim(s);
  T value{};
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// "MemTotal:       16318480 kB" -> bytes, or nullopt.
std::optional<std::uint64_t> meminfo_bytes(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l(line);
    if (l.size() <= key.size() || l.substr(0, key.size()) != key || l[key.size()] != ':') continue;
    std::istringstream fields(line.substr(key.size() + 1));
    std::uint64_t amount = 0;
    std::string unit;
    if (!(fields >> amount)) return std::nullopt;
    fields >> unit;
    return unit == "kB" ? amount * 1024 : amount;
  }
  return std::nullopt;
}

}  // namespace

void collect_uname(const Host& host, SystemInfo& sys, Notes& notes) {
  auto u = host.uname ? host.uname() : std::nullopt;
  if (!u) {
    for (const char* f :
         {"hostname", "platform", "platform_version", "platform_release", "architecture", "kernel_version"}) {
      notes.push_back({std::string("system.") + f, "uname failed"});
    }
    return;
  }
  sys.hostname = u->nodename;
  sys.platform = u->sysname;
  sys.platform_version = u->version;
  sys.platform_release = u->release;
  sys.architecture = u->machine;
  sys.kernel_version = u->version;
}

std::optional<int> count_cpu_list(std::string_view list) {
  list = trim(list);
  if (list.empty()) return std::nullopt;
  int count = 0;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    auto dash = item.find('-');
    if (dash == std::string_view::npos) {
      if (!parse_number<int>(item)) return std::nullopt;
      ++count;
      continue;
    }
    auto lo = parse_number<int>(item.substr(0, dash));
    auto hi = parse_number<int>(item.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    count += *hi - *lo + 1;
  }
  return count;
}

void collect_cpus(const Host& host, SystemInfo& sys, Notes& notes) {
  const std::string path = "/sys/devices/system/cpu/online";
  auto r = host.read(path);
  if (!r) {
    notes.push_back({"system.cpu_count", r.error});
    return;
  }
  sys.cpu_count = count_cpu_list(*r.content);
  if (!sys.cpu_count) notes.push_back({"system.cpu_count", "cannot parse " + path});
}

void collect_memory(const Host& host, SystemInfo& sys, Notes& notes) {
  auto r = host.read("/proc/meminfo");
  if (!r) {
    notes.push_back({"system.memory_total_bytes", r.error});
    notes.push_back({"system.memory_available_bytes", r.error});
    return;
  }
  sys.memory_total_bytes = meminfo_bytes(*r.content, "MemTotal");
  sys.memory_available_bytes = meminfo_bytes(*r.content, "MemAvailable");
  if (!sys.memory_total_bytes) notes.push_back({"system.memory_total_bytes", "no MemTotal in /proc/meminfo"});
  if (!sys.memory_available_bytes) {
    notes.push_back({"system.memory_available_bytes", "no MemAvailable in /proc/meminfo"});
  }
}

void collect_load(const Host& host, SystemInfo& sys, Notes& notes) {
  auto r = host.read("/proc/loadavg");
  if (!r) {
    notes.push_back({"system.load_average", r.error});
    return;
  }
  std::istringstream in(*r.content);
  LoadAverage l;
  if (!(in >> l.one >> l.five >> l.fifteen)) {
    notes.push_back({"system.load_average", "cannot parse /proc/loadavg"});
    return;
  }
  sys.load_average = l;
}

void collect_host_uptime(const Host& host, SystemInfo& sys, Notes& notes) {
  if (auto r = host.read("/proc/uptime"); !r) {
    notes.push_back({"system.uptime_seconds", r.error});
  } else {
    std::istringstream in(*r.content);
    double up = 0;
    if (in >> up && up >= 0) {
      sys.uptime_seconds = static_cast<std::int64_t>(up);
    } else {
      notes.push_back({"system.uptime_seconds", "cannot parse /proc/uptime"});
    }
  }
  auto r = host.read("/proc/stat");
  if (!r) {
    notes.push_back({"system.boot_time", r.error});
    return;
  }
  std::istringstream in(*r.content);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    if (auto secs = parse_number<std::int64_t>(std::string_view(line).substr(6))) {
      sys.boot_time =
          iso8601_utc(std::chrono::system_clock::time_point(std::chrono::seconds(*secs)), Precision::Seconds);
      return;
    }
  }
  notes.push_back({"system.boot_time", "no btime in /proc/stat"});
}

void collect_user(const Host& host, UserInfo& user, Notes& notes) {
  user.uid = host.uid ? host.uid() : 0;
  user.gid = host.gid ? host.gid() : 0;
  auto r = host.read("/etc/passwd");
  if (!r) {
    notes.push_back({"runtime.user.name", r.error});
    return;
  }
  std::istringstream in(*r.content);
  std::string line;
  while (std::getline(in, line)) {
    // name:password:uid:gid:gecos:home:shell
    auto c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    auto c3 = line.find(':', c2 + 1);
    if (c3 == std::string::npos) continue;
    auto uid = parse_number<unsigned>(std::string_view(line).substr(c2 + 1, c3 - c2 - 1));
    if (uid && *uid == user.uid) {
      user.name = line.substr(0, c1);
      return;
    }
  }
  notes.push_back({"runtime.user.name", "uid " + std::to_string(user.uid) + " not in /etc/passwd"});
}

}  // namespace devops::core
