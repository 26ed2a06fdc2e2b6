#pragma once

#include <functional>
#include <span>

namespace CLI {
class App;
}

namespace devops::cli {

// What a subcommand does once its options are parsed; returns the exit code.
using Runner = std::function<int()>;

// One subcommand: its options are added to `sub`, the runner reads them.
struct Command {
  const char* name;
  const char* description;
  Runner (*setup)(CLI::App& sub);
};

// The subcommands, in the order --help lists them.
std::span<const Command> commands();

Runner setup_info(CLI::App& sub);
Runner setup_health(CLI::App& sub);
Runner setup_serve(CLI::App& sub);

// Parses argv, runs the chosen subcommand, maps every error to an exit code.
int run(int argc, char** argv);

}  // namespace devops::cli
