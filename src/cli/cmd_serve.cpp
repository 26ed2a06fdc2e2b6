// devops-info serve
#include <CLI/CLI.hpp>

#include <map>
#include <memory>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/config.hpp"
#include "core/exit_codes.hpp"
#include "core/host.hpp"
#include "serve/serve.hpp"

namespace devops::cli {

namespace {

struct ServeOptions {
  std::string host;
  std::string port;
  std::size_t threads = 0;
  std::size_t max_connections = 0;
  core::LogFormat log_format = core::LogFormat::JsonLines;
  core::LogLevel log_level = core::LogLevel::Info;
  std::string shutdown_timeout;
  std::string shutdown_delay;
  core::TestHooks test;
};

int run_serve(const ServeOptions& o, const CLI::App& sub) {
  core::ServeFlags flags;
  auto given = [&](const char* name) { return sub.count(name) > 0; };
  if (given("--host")) flags.host = o.host;
  if (given("--port")) flags.port = o.port;
  if (given("--threads")) flags.threads = o.threads;
  if (given("--max-connections")) flags.max_connections = o.max_connections;
  if (given("--log-format")) flags.log_format = o.log_format;
  if (given("--log-level")) flags.log_level = o.log_level;
  if (given("--shutdown-timeout")) flags.shutdown_timeout = o.shutdown_timeout;
  if (given("--shutdown-delay")) flags.shutdown_delay = o.shutdown_delay;
  flags.test = o.test;
  auto resolved = core::resolve_serve_config(flags, core::environment_value);
  if (const auto* err = std::get_if<core::ConfigError>(&resolved)) {
    print_error(err->message);
    return kExitUsage;
  }
  const auto result = serve::run(std::get<core::ServeConfig>(resolved));
  if (!result.error.empty()) print_error(result.error);
  return result.exit_code;
}

}  // namespace

Runner setup_serve(CLI::App& sub) {
  auto o = std::make_shared<ServeOptions>();
  const std::map<std::string, core::LogFormat> formats{{"json", core::LogFormat::JsonLines},
                                                       {"text", core::LogFormat::Text}};
  const std::map<std::string, core::LogLevel> levels{{"debug", core::LogLevel::Debug},
                                                     {"info", core::LogLevel::Info},
                                                     {"warning", core::LogLevel::Warning},
                                                     {"error", core::LogLevel::Error}};
  sub.add_option("--host", o->host, "Address to listen on, numeric IPv4 or IPv6 (env HOST; default 0.0.0.0)")
      ->option_text("ADDR");
  sub.add_option("--port", o->port, "TCP port; 0 picks a free one, printed in the startup log (env PORT; default 5000)")
      ->option_text("PORT");
  sub.add_option("--threads", o->threads,
                 "Event loops, one thread each, that serve every connection between them (1 to 64; default: one "
                 "per CPU this process may use)")
      ->option_text("N");
  sub.add_option("--max-connections", o->max_connections,
                 "Most client connections open at once; beyond them a new one is closed at once and counted "
                 "(default 10000)")
      ->option_text("N");
  sub.add_option("--log-format", o->log_format, "Logs on stdout: json (default, one object per line) or text")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->option_text("json|text");
  sub.add_option("--log-level", o->log_level,
                 "Least severe level logged: debug, info (default; debug when DEBUG=true), warning or error")
      ->transform(CLI::CheckedTransformer(levels, CLI::ignore_case))
      ->option_text("LEVEL");
  sub.add_option("--shutdown-delay", o->shutdown_delay,
                 "After SIGTERM or SIGINT, keep serving this long with /ready answering 503, so that load "
                 "balancers stop sending first (default 0)")
      ->option_text("DURATION");
  sub.add_option("--shutdown-timeout", o->shutdown_timeout,
                 "After the delay, how long requests in flight may take before the process exits anyway "
                 "(default 10s)")
      ->option_text("DURATION");
  // For the integration tests (hidden): requests to PATH fail inside the
  // handler (500), or wait a second before they are answered.
  sub.add_option("--fail-path", o->test.fail_path, "")->group("");
  sub.add_option("--delay-path", o->test.delay_path, "")->group("");
  sub.footer(
      "Routes: GET / (report), /health, /ready, /metrics (Prometheus); HEAD works wherever GET does.\n"
      "Examples:\n"
      "  devops-info serve\n"
      "  PORT=8080 devops-info serve --log-format text\n"
      "  devops-info serve --host 127.0.0.1 --port 0 --shutdown-delay 5s --shutdown-timeout 30s");
  const CLI::App* self = &sub;
  return [o, self] { return run_serve(*o, *self); };
}

}  // namespace devops::cli
