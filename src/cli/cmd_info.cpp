// devops-info info
#include <CLI/CLI.hpp>

#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/load_config.hpp"
#include "cli/output.hpp"
#include "core/collect.hpp"
#include "core/exit_codes.hpp"
#include "core/render.hpp"
#include "core/timefmt.hpp"

namespace devops::cli {

namespace {

enum class Format { Json, Table, Markdown, Html, Env };

struct InfoOptions {
  Format format = Format::Json;
  bool compact = false;
  std::string field;
  ColorMode color = ColorMode::Auto;
  std::string config;
};

int run_info(const InfoOptions& o, const CLI::App& sub) {
  if (o.compact && o.format != Format::Json) {
    print_error("--compact applies to --format json only");
    return kExitUsage;
  }
  auto report = core::collect_report(core::real_host());
  if (const auto path = config_path(sub.count("--config") > 0 ? std::optional<std::string>(o.config) : std::nullopt)) {
    auto loaded = load_config_file(*path);
    if (const auto* err = std::get_if<core::ConfigError>(&loaded)) {
      print_error(err->message);
      return kExitUsage;
    }
    auto& file = std::get<LoadedFile>(loaded).file;
    for (const auto& w : file.warnings) print_warning(w);
    report.config = core::loaded_config_to_json(
        {*path, 1, core::iso8601_utc(std::chrono::system_clock::now()), file.ui, std::move(file.app), {}});
  }
  std::string out;
  if (!o.field.empty() || sub.count("--field") > 0) {
    const auto doc = core::report_to_json(report);
    const auto found = core::lookup_field(doc, o.field);
    if (found.value == nullptr) {
      print_error(found.error);
      return kExitUsage;
    }
    out = core::field_text(*found.value) + "\n";
  } else {
    switch (o.format) {
      case Format::Json:
        out = core::render_json(core::report_to_json(report),
                                o.compact ? core::JsonStyle::Compact : core::JsonStyle::Pretty);
        break;
      case Format::Table: out = core::render_table(report, resolve_color(o.color)); break;
      case Format::Markdown: out = core::render_markdown(report); break;
      case Format::Html: out = core::render_html(report, {}).html; break;
      case Format::Env: out = core::render_env(core::report_to_json(report)); break;
    }
  }
  return write_stdout(out) ? kExitOk : kExitFailure;
}

}  // namespace

Runner setup_info(CLI::App& sub) {
  auto o = std::make_shared<InfoOptions>();
  const std::map<std::string, Format> formats{{"json", Format::Json},
                                              {"table", Format::Table},
                                              {"markdown", Format::Markdown},
                                              {"html", Format::Html},
                                              {"env", Format::Env}};
  const std::map<std::string, ColorMode> colors{
      {"auto", ColorMode::Auto}, {"always", ColorMode::Always}, {"never", ColorMode::Never}};
  auto* format = sub.add_option("-f,--format", o->format,
                                "Output format: json (default), table (aligned, human units), markdown "
                                "(the table's sections as Markdown tables, for CI pages), html (the page serve "
                                "shows a browser, static, for a CI artefact) or env "
                                "(DEVOPS_INFO_...='value' lines for eval and env files)")
                     ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
                     ->option_text("json|table|markdown|html|env");
  sub.add_flag("-c,--compact", o->compact, "With --format json: one line instead of indented");
  sub.add_option("--field", o->field,
                 "Print one value alone, raw, e.g. system.hostname or container.memory_limit_bytes "
                 "(null prints an empty line)")
      ->excludes(format)
      ->option_text("PATH");
  sub.add_option("--color", o->color,
                 "Colour in table output: auto (default: on a terminal, off with NO_COLOR), "
                 "always or never")
      ->transform(CLI::CheckedTransformer(colors, CLI::ignore_case))
      ->option_text("auto|always|never");
  sub.add_option("--config", o->config,
                 "Add the application's configuration from this JSON file under \"config\", secrets "
                 "redacted, as serve shows it (env CONFIG_FILE)")
      ->option_text("FILE");
  sub.footer(
      "Examples:\n"
      "  devops-info info --field container.memory_limit_bytes\n"
      "  devops-info info --format markdown >> \"$GITHUB_STEP_SUMMARY\"\n"
      "  eval \"$(devops-info info --format env)\"; echo \"$DEVOPS_INFO_SYSTEM_HOSTNAME\"");
  const CLI::App* self = &sub;
  return [o, self] { return run_info(*o, *self); };
}

}  // namespace devops::cli
