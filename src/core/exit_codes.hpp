#pragma once

namespace devops {

// Process exit codes, the same for every subcommand.
enum ExitCode : int {
  kExitOk = 0,       // success; a healthy probe
  kExitFailure = 1,  // runtime failure; an unhealthy or unreachable server
  kExitUsage = 2,    // usage error: unknown option, bad value, unknown --field
};

}  // namespace devops
