// devops-info serve
#include <CLI/CLI.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/load_config.hpp"
#include "cli/output.hpp"
#include "core/config_file.hpp"
#include "core/exit_codes.hpp"
#include "core/host.hpp"
#include "core/serve_config.hpp"
#include "serve/serve.hpp"

namespace devops::cli {

namespace {

struct ServeOptions {
  std::string host;
  std::string port;
  std::string threads;
  std::string max_connections;
  core::LogFormat log_format = core::LogFormat::JsonLines;
  core::LogLevel log_level = core::LogLevel::Info;
  std::string shutdown_timeout;
  std::string shutdown_delay;
  std::string request_timeout;
  std::string idle_timeout;
  std::string write_timeout;
  bool unready = false;
  bool unhealthy = false;
  std::vector<std::string> fault_delay;
  std::vector<std::string> fault_error;
  std::string introspection;
  std::string max_delay;
  std::string max_body;
  std::string env_allow;
  std::string trusted_proxies;
  std::string delay_path;
  std::string data_dir;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_port;
  std::string tls_client_ca;
  std::string flush_interval;
  std::string config;
  std::vector<std::string> upstream;
  std::string upstream_timeout;
  std::string upstream_max_body;
  std::string upstream_cacert;
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
  if (given("--request-timeout")) flags.request_timeout = o.request_timeout;
  if (given("--idle-timeout")) flags.idle_timeout = o.idle_timeout;
  if (given("--write-timeout")) flags.write_timeout = o.write_timeout;
  flags.unready = o.unready;
  flags.unhealthy = o.unhealthy;
  flags.fault_delay = o.fault_delay;
  flags.fault_error = o.fault_error;
  if (given("--introspection")) flags.introspection = o.introspection;
  if (given("--max-delay")) flags.max_delay = o.max_delay;
  if (given("--max-body")) flags.max_body = o.max_body;
  if (given("--env-allow")) flags.env_allow = o.env_allow;
  if (given("--trusted-proxies")) flags.trusted_proxies = o.trusted_proxies;
  flags.delay_path = o.delay_path;
  if (given("--data-dir")) flags.data_dir = o.data_dir;
  flags.upstream = o.upstream;
  if (given("--upstream-timeout")) flags.upstream_timeout = o.upstream_timeout;
  if (given("--upstream-max-body")) flags.upstream_max_body = o.upstream_max_body;
  if (given("--upstream-cacert")) flags.upstream_cacert = o.upstream_cacert;
  if (given("--tls-cert")) flags.tls_cert = o.tls_cert;
  if (given("--tls-key")) flags.tls_key = o.tls_key;
  if (given("--tls-port")) flags.tls_port = o.tls_port;
  if (given("--tls-client-ca")) flags.tls_client_ca = o.tls_client_ca;
  if (given("--flush-interval")) flags.flush_interval = o.flush_interval;
  std::optional<serve::ConfigSource> source;
  const auto path = config_path(given("--config") ? std::optional<std::string>(o.config) : std::nullopt);
  if (path) {
    auto loaded = load_config_file(*path);
    if (const auto* err = std::get_if<core::ConfigError>(&loaded)) {
      print_error(err->message);
      return kExitUsage;
    }
    auto& [file, text] = std::get<LoadedFile>(loaded);
    source = serve::ConfigSource{*path, flags, core::environment_value, std::move(file), std::move(text)};
  }
  auto resolved = core::resolve_serve_config(flags, core::environment_value, source ? &source->file : nullptr);
  if (const auto* err = std::get_if<core::ConfigError>(&resolved)) {
    print_error(err->message);
    return kExitUsage;
  }
  const auto result = serve::run(std::get<core::ServeConfig>(resolved), std::move(source));
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
                 "Most client connections open at once; at the limit a new one takes the place of an idle one, "
                 "or is closed at once if none is idle (default 10000)")
      ->option_text("N");
  sub.add_option("--log-format", o->log_format, "Logs on stdout: json (default, one object per line) or text")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case))
      ->option_text("json|text");
  sub.add_option("--log-level", o->log_level,
                 "Least severe level logged: debug, info (default; debug when DEBUG=true), warning or error")
      ->transform(CLI::CheckedTransformer(levels, CLI::ignore_case))
      ->option_text("LEVEL");
  sub.add_option("--request-timeout", o->request_timeout,
                 "A request's head and body must arrive within this of its first byte, else the connection is "
                 "closed (100ms to 1h; default 10s)")
      ->option_text("DURATION");
  sub.add_option("--idle-timeout", o->idle_timeout,
                 "How long a kept-alive connection may wait for its next request; keep it above a load "
                 "balancer's own idle timeout (100ms to 1h; default 5s)")
      ->option_text("DURATION");
  sub.add_option("--write-timeout", o->write_timeout,
                 "How long an answer may wait for a client that does not read it before the connection is "
                 "closed (100ms to 1h; default 5s)")
      ->option_text("DURATION");
  sub.add_option("--shutdown-delay", o->shutdown_delay,
                 "After SIGTERM or SIGINT, keep serving this long with /ready answering 503, so that load "
                 "balancers stop sending first (default 0)")
      ->option_text("DURATION");
  sub.add_option("--shutdown-timeout", o->shutdown_timeout,
                 "After the delay, how long requests in flight may take before the process exits anyway "
                 "(default 10s)")
      ->option_text("DURATION");
  sub.add_option("--data-dir", o->data_dir,
                 "Count the visits of GET / in DIR/visits, served at /visits (env DATA_DIR; default: no counter)")
      ->option_text("DIR");
  sub.add_option("--tls-cert", o->tls_cert,
                 "Serve HTTPS (HTTP/2 by ALPN, or HTTP/1.1) on --tls-port with this PEM certificate and its chain, "
                 "reloaded live when the file changes (env TLS_CERT_FILE)")
      ->option_text("FILE");
  sub.add_option("--tls-key", o->tls_key, "The certificate's PEM private key, reloaded with it (env TLS_KEY_FILE)")
      ->option_text("FILE");
  sub.add_option("--tls-port", o->tls_port, "The HTTPS port, beside the plain one (default 5443; env TLS_PORT)")
      ->option_text("PORT");
  sub.add_option("--tls-client-ca", o->tls_client_ca,
                 "Mutual TLS: ask every client for a certificate and verify it against these PEM CAs; a client "
                 "without one is refused (env TLS_CLIENT_CA_FILE)")
      ->option_text("FILE");
  sub.add_option("--flush-interval", o->flush_interval,
                 "How often the visit count is written to the data directory (default 1s)")
      ->option_text("DURATION");
  sub.add_option("--config", o->config,
                 "A JSON config file: settings named like these flags (below them in precedence), ui for the "
                 "page, the application's own keys; reloaded when it changes and on SIGHUP (env CONFIG_FILE)")
      ->option_text("FILE");
  sub.add_flag("--unready", o->unready, "Start with /ready answering 503 until 'devops-info health --set ready=true'");
  sub.add_flag("--unhealthy", o->unhealthy,
               "Start with /health answering 503 until 'devops-info health --set healthy=true'");
  sub.add_option("--fault-delay", o->fault_delay,
                 "Fault injection: hold answers of ROUTE (or * for all) for DURATION, or with ROUTE=MIN-MAX a "
                 "random time from MIN to MAX; repeatable")
      ->option_text("ROUTE=DURATION")
      ->allow_extra_args(false);
  sub.add_option("--fault-error", o->fault_error,
                 "Fault injection: answer this fraction (0 to 1) of requests to ROUTE (or *) with 500; repeatable")
      ->option_text("ROUTE=FRACTION")
      ->allow_extra_args(false);
  sub.add_option("--introspection", o->introspection,
                 "The routes a person asks on demand, /status/{code}, /delay/{duration}, /env, /headers and /echo: on "
                 "(default) or off (404) (env INTROSPECTION)")
      ->option_text("on|off");
  sub.add_option("--max-delay", o->max_delay,
                 "The longest /delay/{duration} may be asked to wait; longer is a 400 at once (0 to 10m; "
                 "default 10s; env MAX_DELAY)")
      ->option_text("DURATION");
  sub.add_option("--max-body", o->max_body,
                 "The largest body POST or PUT /echo takes; larger is a 413 (0 to 16MiB; default 1MiB; env "
                 "MAX_BODY). Other routes read and drop bodies up to 64KiB")
      ->option_text("SIZE");
  sub.add_option("--env-allow", o->env_allow,
                 "The environment variables GET /env shows: comma-separated shell globs; a secret-looking name "
                 "is shown <redacted> (default POD_*,NODE_*,KUBERNETES_*,HOSTNAME; env ENV_ALLOW)")
      ->option_text("PATTERNS");
  sub.add_option("--trusted-proxies", o->trusted_proxies,
                 "Believe X-Forwarded-For and Forwarded from peers in these comma-separated ranges "
                 "(10.0.0.0/8,fd00::/8): the client is the rightmost address that is not one of them "
                 "(default: none, the peer is the client; env TRUSTED_PROXIES)")
      ->option_text("CIDRS");
  sub.add_option("--upstream", o->upstream,
                 "An upstream GET /upstreams calls, http(s)://HOST[:PORT][/PATH]; repeat it for more, at most 16 "
                 "(env UPSTREAM_URIS, comma-separated)")
      ->option_text("URL")
      ->allow_extra_args(false);
  sub.add_option("--upstream-timeout", o->upstream_timeout,
                 "How long each upstream call may take, from its start to its answer's last byte (10ms to 1m; "
                 "default 2s; env UPSTREAM_TIMEOUT)")
      ->option_text("DURATION");
  sub.add_option("--upstream-max-body", o->upstream_max_body,
                 "The largest answer an upstream may give; larger is an error (up to 16MiB; default 1MiB; env "
                 "UPSTREAM_MAX_BODY)")
      ->option_text("SIZE");
  sub.add_option("--upstream-cacert", o->upstream_cacert,
                 "PEM CAs that https:// upstreams' certificates must chain to (default: the system's, which a "
                 "scratch image does not have; env UPSTREAM_CACERT)")
      ->option_text("FILE");
  // Kept for the lifecycle tests, hidden: the answer to PATH is held back
  // for a second (as --fault-delay does), without blocking the event loop.
  sub.add_option("--delay-path", o->delay_path, "")->group("");
  sub.footer(
      "Routes: GET / (report), /health, /ready, /metrics (Prometheus), /visits, /status/{code}, "
      "/delay/{duration}, /env, /headers, POST|PUT /echo, /upstreams; HEAD works wherever GET does. gRPC health over "
      "HTTP/2 on the "
      "same port.\n"
      "Traces: OTLP/HTTP JSON to OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) when set; OTEL_SERVICE_NAME, "
      "OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_SDK_DISABLED (see the man page).\n"
      "Examples:\n"
      "  devops-info serve\n"
      "  PORT=8080 devops-info serve --log-format text --data-dir /data --upstream http://backend:5000/\n"
      "  devops-info serve --host 127.0.0.1 --port 0 --fault-error /=0.1 --fault-delay '*=100ms-2s'");
  const CLI::App* self = &sub;
  return [o, self] { return run_serve(*o, *self); };
}

}  // namespace devops::cli
