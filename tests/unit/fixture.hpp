#pragma once

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/host.hpp"

namespace devops::test {

// 2026-11-28T14:34:56.789012Z: the clock of every fixture host.
inline std::chrono::system_clock::time_point fixed_now() {
  using namespace std::chrono;
  return system_clock::time_point(seconds(1795876496)) + microseconds(789012);
}

inline std::filesystem::path fixture_dir(const std::string& name) {
  return std::filesystem::path(DEVOPS_FIXTURES) / name;
}

// A host rooted at tests/fixtures/<name>.
inline core::Host fixture(const std::string& name) {
  return core::fixture_host(fixture_dir(name), fixed_now());
}

// A fresh directory under the system's temporary directory, removed with its contents.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "devops-info-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares `actual` with tests/fixtures/golden/<name>; UPDATE_GOLDEN=1 rewrites it.
inline bool matches_golden(const std::string& name, const std::string& actual) {
  const auto path = fixture_dir("golden") / name;
  if (const char* u = std::getenv("UPDATE_GOLDEN"); u != nullptr && std::string(u) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return true;
  }
  return read_text(path) == actual;
}

}  // namespace devops::test
