// The command line: one table of subcommands, one place that maps errors to
// exit codes.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <array>
#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/build_info.hpp"
#include "core/exit_codes.hpp"

namespace devops::cli {

namespace {

constexpr std::array kCommands{
    Command{"info", "Print a report of the service, the host and the runtime", &setup_info},
    Command{"health", "Probe a running server's health, or print the local health document", &setup_health},
    Command{"serve", "Run the HTTP service: /, /health, /ready, /metrics, /visits", &setup_serve},
};

std::string version_text() {
  const auto& b = core::build_info();
  return fmt::format("devops-info {}\ncommit: {}\ncompiler: {}\nbuild type: {}", b.version, b.commit, b.compiler,
                     b.build_type);
}

}  // namespace

std::span<const Command> commands() {
  return kCommands;
}

int run(int argc, char** argv) {
  CLI::App app{
      "devops-info: facts about a service, its host and its runtime, as JSON, a table or shell "
      "variables; and an HTTP service that serves the same facts.",
      "devops-info"};
  app.set_version_flag("-V,--version", version_text(), "Print version, commit and compiler, then exit");
  app.require_subcommand(1);
  app.fallthrough(false);
  app.footer(
      "Run 'devops-info COMMAND --help' for the options of a command.\n"
      "Exit status: 0 success, 1 runtime failure or unhealthy, 2 usage error.");

  Runner selected;
  std::vector<std::pair<CLI::App*, Runner>> runners;
  for (const auto& cmd : commands()) {
    CLI::App* sub = app.add_subcommand(cmd.name, cmd.description);
    runners.emplace_back(sub, cmd.setup(*sub));
  }
  // Set after the subcommands, which copied the footer above: these examples
  // belong to the top level only.
  app.footer(
      "Run 'devops-info COMMAND --help' for the options of a command, 'man devops-info' for the rest.\n"
      "Exit status: 0 success, 1 runtime failure or unhealthy, 2 usage error.\n"
      "\n"
      "Examples:\n"
      "  devops-info info --format table\n"
      "  devops-info serve --port 8080 &\n"
      "  devops-info health --url http://127.0.0.1:8080/health --wait 30s");

  // --help and --version print to std::cout: a failed write is exit 1, as for every command.
  auto printed = [](int rc) {
    std::cout.flush();
    if (!std::cout.fail() && std::fflush(stdout) == 0 && std::ferror(stdout) == 0) return rc;
    print_error("cannot write to standard output");
    return static_cast<int>(kExitFailure);
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return printed(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return printed(app.exit(e));
  } catch (const CLI::CallForVersion& e) {
    return printed(app.exit(e));
  } catch (const CLI::ParseError& e) {
    print_error(e.what());
    std::fprintf(stderr, "Run 'devops-info --help' for usage.\n");
    return kExitUsage;
  }

  try {
    for (auto& [sub, runner] : runners) {
      if (sub->parsed()) return runner();
    }
    print_error("no command given");
    return kExitUsage;
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitFailure;
  }
}

}  // namespace devops::cli
