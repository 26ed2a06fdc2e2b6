// devops-info health
#include <CLI/CLI.hpp>

#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/collect.hpp"
#include "core/exit_codes.hpp"
#include "core/health.hpp"
#include "core/render.hpp"

namespace devops::cli {

namespace {

enum class Format { Json, Table };

struct HealthOptions {
  Format format = Format::Json;
  bool compact = false;
  bool local = false;
};

int run_health(const HealthOptions& o) {
  if (o.compact && o.format != Format::Json) {
    print_error("--compact applies to --format json only");
    return kExitUsage;
  }
  const auto h =
      core::make_health(core::HealthStatus::Healthy, std::chrono::system_clock::now(), core::process_start());
  const std::string out =
      o.format == Format::Table
          ? core::health_to_table(h)
          : core::render_json(core::health_to_json(h), o.compact ? core::JsonStyle::Compact : core::JsonStyle::Pretty);
  if (!write_stdout(out)) {
    print_error("cannot write to standard output");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Runner setup_health(CLI::App& sub) {
  auto o = std::make_shared<HealthOptions>();
  const std::map<std::string, Format> formats{{"json", Format::Json}, {"table", Format::Table}};
  sub.add_option("-f,--format", o->format, "Output format: json (default) or table")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->option_text("json|table");
  sub.add_flag("-c,--compact", o->compact, "With --format json: one line instead of indented");
  sub.add_flag("--local", o->local, "Print this process's own health document instead of probing a server");
  sub.footer(
      "Examples:\n"
      "  devops-info health --local\n"
      "  devops-info health --local --format table");
  return [o] { return run_health(*o); };
}

Runner setup_serve(CLI::App& sub) {
  return [&sub] {
    (void)sub;
    print_error("serve is not built yet");
    return static_cast<int>(kExitFailure);
  };
}

}  // namespace devops::cli
