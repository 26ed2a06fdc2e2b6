#include "core/host.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

namespace devops::core {

namespace {

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

std::string errno_text(int err) {
  return std::system_category().message(err);
}

ReadResult Host::read(const std::string& path) const {
  const auto full = root / std::filesystem::path(path).relative_path();
  std::ifstream in(full, std::ios::binary);
  if (!in) return {std::nullopt, "cannot read " + path + ": " + errno_text(errno)};
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return {std::nullopt, "cannot read " + path + ": " + errno_text(errno)};
  return {buf.str(), {}};
}

bool Host::exists(const std::string& path) const {
  std::error_code ec;
  return std::filesystem::exists(root / std::filesystem::path(path).relative_path(), ec);
}

std::optional<std::string> environment_value(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Host real_host() {
  Host h;
  h.root = "/";
  h.getenv = environment_value;
  h.uname = []() -> std::optional<Uname> {
    struct utsname u {};
    if (::uname(&u) != 0) return std::nullopt;
    return Uname{u.sysname, u.nodename, u.release, u.version, u.machine};
  };
  h.uid = [] { return static_cast<unsigned>(::getuid()); };
  h.gid = [] { return static_cast<unsigned>(::getgid()); };
  h.affinity_cpus = []() -> std::optional<unsigned> {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::nullopt;
    return static_cast<unsigned>(CPU_COUNT(&set));
  };
  h.now = [] { return std::chrono::system_clock::now(); };
  return h;
}

Host fixture_host(const std::filesystem::path& root, std::chrono::system_clock::time_point now) {
  Host h;
  h.root = root;
  h.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  h.uname = [root]() -> std::optional<Uname> {
    Host files;
    files.root = root;
    auto field = [&](const std::string& p) {
      auto r = files.read(p);
      return r ? trim_newline(*r.content) : std::string();
    };
    Uname u{field("/proc/sys/kernel/ostype"), field("/proc/sys/kernel/hostname"), field("/proc/sys/kernel/osrelease"),
            field("/proc/sys/kernel/version"), field("/.uname_machine")};
    if (u.sysname.empty()) return std::nullopt;
    return u;
  };
  h.uid = [] { return 1000U; };
  h.gid = [] { return 1000U; };
  h.affinity_cpus = []() -> std::optional<unsigned> { return std::nullopt; };
  h.now = [now] { return now; };
  return h;
}

}  // namespace devops::core
