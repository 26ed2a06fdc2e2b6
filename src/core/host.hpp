#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace devops::core {

// What uname(2) reports.
struct Uname {
  std::string sysname;   // "Linux"
  std::string nodename;  // hostname
  std::string release;   // kernel release, e.g. "6.1.0-18-amd64"
  std::string version;   // kernel build string, e.g. "#1 SMP PREEMPT_DYNAMIC Debian ..."
  std::string machine;   // architecture, e.g. "x86_64"
};

// A file's content, or why it could not be read.
struct ReadResult {
  std::optional<std::string> content;
  std::string error;  // empty when content is set
  explicit operator bool() const { return content.has_value(); }
};

// The one interface through which collectors see the host: files under an
// injectable root, the environment, uname and process identity. Tests point
// it at fixture trees and fixed values.
struct Host {
  std::filesystem::path root{"/"};
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::function<std::optional<Uname>()> uname;
  std::function<unsigned()> uid;
  std::function<unsigned()> gid;
  std::function<std::optional<unsigned>()> affinity_cpus;  // CPUs this process may run on
  std::function<std::chrono::system_clock::time_point()> now;

  // Reads `path` (absolute, e.g. "/proc/meminfo") below root.
  [[nodiscard]] ReadResult read(const std::string& path) const;
  // True when `path` exists below root.
  [[nodiscard]] bool exists(const std::string& path) const;
};

// A variable of this process's environment; nullopt when unset.
std::optional<std::string> environment_value(const std::string& name);

// The text of an errno value. strerror() is not thread-safe, and serve has
// several threads that report system errors.
std::string errno_text(int err);

// The real host: root "/", the process environment, the real syscalls.
Host real_host();

// A host rooted at a fixture tree: no environment, uname from
// <root>/proc/sys/kernel/{ostype,hostname,osrelease,version} and
// <root>/.uname_machine, uid/gid 1000, affinity unknown, a fixed clock.
Host fixture_host(const std::filesystem::path& root, std::chrono::system_clock::time_point now);

}  // namespace devops::core
