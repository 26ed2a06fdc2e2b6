#pragma once

#include <string>

namespace devops::core {

// Facts fixed when the binary was built.
struct BuildInfo {
  std::string version;     // service.version: the project version, or the image tag
  std::string commit;      // short source commit, or "unknown"
  std::string compiler;    // e.g. "GCC 12.2.0"
  std::string build_type;  // CMake build type, e.g. "Release"
  std::string cpp_standard;
};

// The build facts of this binary.
const BuildInfo& build_info();

}  // namespace devops::core
