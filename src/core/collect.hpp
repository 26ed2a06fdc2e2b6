#pragma once

#include <chrono>

#include "core/host.hpp"
#include "core/report.hpp"

namespace devops::core {

// The fixed texts of the service section (wire-compatible with the Flask service).
inline constexpr const char* kServiceName = "devops-info-service";
inline constexpr const char* kServiceDescription = "DevOps course info service";
inline constexpr const char* kFramework = "C++ (epoll, Boost.Beast parser)";

// When this process started; uptime counts from here.
std::chrono::system_clock::time_point process_start();

// Reads every fact through `host`. Never throws for an unreadable fact: it
// becomes a null field plus a Note.
Report collect_report(const Host& host, std::chrono::system_clock::time_point started = process_start(), int pid = 0);

}  // namespace devops::core
