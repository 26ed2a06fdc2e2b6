#include "cli/commands.hpp"
#include "core/collect.hpp"

int main(int argc, char** argv) {
  devops::core::process_start();  // uptime counts from here
  return devops::cli::run(argc, argv);
}
