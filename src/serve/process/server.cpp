// `serve`: the Service on the event-loop engine, the logs, the limits and the
// shutdown sequence (an optional delay with /ready 503, then the drain).
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>

#include "core/build_info.hpp"
#include "core/collect.hpp"
#include "core/collectors.hpp"
#include "core/exit_codes.hpp"
#include "core/host.hpp"
#include "core/serve_config.hpp"
#include "core/timefmt.hpp"
#include "serve/app/info_document.hpp"
#include "serve/app/metrics.hpp"
#include "serve/app/service.hpp"
#include "serve/app/visits.hpp"
#include "serve/engine/engine.hpp"
#include "serve/http2/cleartext_protocol.hpp"
#include "serve/log/log.hpp"
#include "serve/log/log_writer.hpp"
#include "serve/net/net_error.hpp"
#include "serve/process/control.hpp"
#include "serve/process/file_watch.hpp"
#include "serve/process/signals.hpp"
#include "serve/process/tls_port.hpp"
#include "serve/process/tracing.hpp"
#include "serve/serve.hpp"
#include "serve/upstream/resolver.hpp"
#include "serve/upstream/upstream_client.hpp"

namespace devops::serve {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto kReportMaxAge = std::chrono::seconds(1);
constexpr std::size_t kLogQueueBytes = std::size_t{1} << 20;  // beyond this, lines are dropped and counted
constexpr auto kLogFlushTimeout = std::chrono::seconds(1);    // for the last lines at exit
// Short-lived descriptors besides the connections: control clients, /proc
// reads, the visit count's temporary file, a config reload.
constexpr std::size_t kTransientDescriptors = 16;
constexpr std::size_t kMaxUpstreamDescriptors = 1024;
constexpr std::chrono::milliseconds kMinSpanFlush{500};
constexpr std::chrono::milliseconds kMaxSpanFlush{5000};

std::string bind_error_text(const std::string& host, int port, NetError e) {
  const bool v6 = host.find(':') != std::string::npos;  // [::1]:5000, as in a URL
  std::string text =
      fmt::format("cannot listen on {}{}{}:{}: {}", v6 ? "[" : "", host, v6 ? "]" : "", port, describe(e));
  if (e == NetError::AddressInUse) text += fmt::format(" (another process is listening on port {})", port);
  if (e == NetError::AccessDenied && port < 1024) text += " (ports below 1024 need privileges)";
  return text;
}

// One event loop per CPU this process may use (cgroup quota, affinity).
std::size_t usable_cpus() {
  const auto& host = core::real_host();
  core::SystemInfo sys;
  core::Notes notes;
  core::collect_cpus(host, sys, notes);
  core::ContainerInfo c;
  core::collect_cgroup(host, sys.cpu_count, c, notes);
  const int n = c.effective_cpu_count.value_or(sys.cpu_count.value_or(1));
  return std::clamp<std::size_t>(static_cast<std::size_t>(std::max(n, 1)), 1, core::kMaxThreads);
}

// Descriptors open now (stdio, the log, the visit lock, the signal watch).
std::size_t open_descriptors() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 8;
  std::size_t n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.' ? 1 : 0;
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // not the directory's own
}

// Raises the soft limit of open files to the hard one; returns how many
// connections fit under it, besides what the process itself needs: what is
// open now, the listener and the control socket, four per event loop
// (epoll, its wake-up eventfd, the spare one it gives up when out of
// descriptors, the upstream client's mailbox), `upstream` for the
// connections to upstreams, the short-lived ones and the few connections a loop may
// admit over --max-connections while another makes room.
std::size_t raise_file_limit(std::size_t wanted, std::size_t loops, std::size_t upstream) {
  const std::size_t own = open_descriptors() + 2 + 4 * loops + upstream + kTransientDescriptors + kConnectionsOverLimit;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(wanted + own) : rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return wanted;
  const auto fit = rl.rlim_cur > own + 1 ? static_cast<std::size_t>(rl.rlim_cur) - own : 1;
  return std::min(wanted, fit);
}

// Who answers GET /upstreams: POD_NAME (the chart sets it from the
// downward API), else the host name.
std::string pod_name() {
  const auto& host = core::real_host();
  if (auto v = host.getenv("POD_NAME"); v && !v->empty()) return *v;
  const auto u = host.uname ? host.uname() : std::nullopt;
  return u ? u->nodename : std::string();
}

// Ends the process now, after giving the log a moment: requests are still in
// flight on the loops, so nothing may be destroyed under them.
[[noreturn]] void exit_now(LogWriter& writer) {
  writer.close(std::chrono::milliseconds(500));
  // exit_group(2) itself, as _exit calls it, but past a sanitizer's _exit
  // hook: ThreadSanitizer's finalises for a second while the event loops go on
  // answering, so a cut request could still be answered in a tsan build.
  ::syscall(SYS_exit_group, kExitFailure);
  ::_exit(kExitFailure);
}

}  // namespace

RunResult run(const core::ServeConfig& cfg, std::optional<ConfigSource> config_file) {
  // With stdin, stdout or stderr closed, the listening socket or a client's
  // would take its number, and the log would go to a client: fill the gaps.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) (void)::open("/dev/null", O_RDWR | O_CLOEXEC);
  }
  const auto started = core::process_start();
  // Zero-initialised in .bss: the counters no request touched take no memory.
  static constinit Metrics metrics;
  LogWriter writer(STDOUT_FILENO, kLogQueueBytes, metrics.log_lines_dropped);
  Logger logger(cfg.log_format, cfg.log_level, STDOUT_FILENO, &writer);
  std::unique_ptr<LiveConfig> live;
  if (config_file) {
    live = std::make_unique<LiveConfig>(std::move(*config_file), cfg, logger, metrics.config);
    live->log_start();
  }
  InfoDocument info(
      [&live] {
        auto report = core::collect_report(core::real_host());
        if (live) report.config = live->report();
        return report;
      },
      kReportMaxAge, started, !cfg.data_dir.empty());
  Service service(
      info, metrics, logger, started, cfg.switches,
      cfg.data_dir.empty() ? nullptr : std::make_unique<VisitCounter>(cfg.data_dir, logger, cfg.flush_interval));
  if (live) live->attach(service, info);
  if (!cfg.upstreams.cacert.empty() && ::access(cfg.upstreams.cacert.c_str(), R_OK) != 0) {
    std::string text = fmt::format("cannot read --upstream-cacert {}: {}", cfg.upstreams.cacert, std::strerror(errno));
    logger.log(core::LogLevel::Error, "cannot start", {{"error_type", "config"}, {"error", text}});
    writer.close(kLogFlushTimeout);
    return {kExitFailure, std::move(text)};
  }
  service.set_upstreams(upstream_settings(cfg.upstreams));
  static trace::ExportStats export_stats;
  const auto& build = core::build_info();
  auto tracing = setup_tracing(core::real_host().getenv, build.version, export_stats);
  for (const auto& w : tracing.warnings)
    logger.log(core::LogLevel::Warning, "tracing setting ignored", {{"error_type", "config"}, {"error", w}});
  service.set_identity(tracing.service_name, pod_name());
  service.set_tracing(tracing.sampler, tracing.exporter.get(), tracing.exporter ? &export_stats : nullptr);
  SignalWatch signals;  // before bind: a SIGTERM from now on is not lost

  EngineConfig ec;
  // HTTP/1.1, or HTTP/2 by prior knowledge or Upgrade, on the one port.
  ec.protocol = [](const HttpLimits& limits, HttpService& s, std::string peer) -> std::unique_ptr<ConnProtocol> {
    return std::make_unique<CleartextProtocol>(limits, s, std::move(peer));
  };
  // Each loop's client of the upstreams, on the loop's own reactor.
  ec.side = [agent = "devops-info/" + build.version](Reactor& reactor) -> std::unique_ptr<LoopSide> {
    return std::make_unique<UpstreamClient>(reactor, shared_resolver(), agent);
  };
  ec.loops = cfg.threads != 0 ? cfg.threads : usable_cpus();
  // Upstream calls (when there are upstreams, or a config file may add
  // them) take descriptors too: past these, a call fails to connect and
  // says so, and clients keep theirs.
  const std::size_t upstream_fds =
      cfg.upstreams.urls.empty() && !live ? 0 : std::min<std::size_t>(ec.loops * 64, kMaxUpstreamDescriptors);
  ec.max_connections = raise_file_limit(cfg.max_connections, ec.loops, upstream_fds);
  ec.timeouts.request = cfg.request_timeout;
  ec.timeouts.idle = cfg.idle_timeout;
  ec.timeouts.write = cfg.write_timeout;
  if (ec.max_connections < cfg.max_connections) {
    logger.log(core::LogLevel::Warning, "fewer connections than asked for",
               {{"max_connections", cfg.max_connections},
                {"allowed", ec.max_connections},
                {"reason", "the open-file limit (ulimit -n) is too low"}});
  }
  Engine engine(service, metrics.connections, logger, ec);
  // A probe switch flipped or the shutdown's next step: open gRPC Watches hear of it.
  service.on_change([&engine] { engine.notify(); });
  const auto bound = engine.listen(cfg.host, cfg.port);
  if (bound.error != NetError::None) {
    std::string text = bind_error_text(cfg.host, cfg.port, bound.error);
    logger.log(core::LogLevel::Error, "cannot listen",
               {{"error_type", "bind"}, {"error", text}, {"host", cfg.host}, {"port", cfg.port}});
    writer.close(kLogFlushTimeout);
    return {kExitFailure, std::move(text)};
  }

  std::unique_ptr<TlsPort> tls;
  Engine::Bound tls_bound;
  if (cfg.tls.enabled()) {
    auto opened = TlsPort::open(cfg.tls, metrics.tls, logger);
    std::string text;
    if (auto* e = std::get_if<std::string>(&opened)) {
      text = "cannot serve TLS: " + *e;
    } else {
      tls = std::get<std::unique_ptr<TlsPort>>(std::move(opened));
      tls_bound = engine.listen(cfg.host, cfg.tls.port, tls->protocol());
      if (tls_bound.error != NetError::None) text = bind_error_text(cfg.host, cfg.tls.port, tls_bound.error);
    }
    if (!text.empty()) {
      logger.log(core::LogLevel::Error, "cannot serve TLS", {{"error_type", "tls"}, {"error", text}});
      writer.close(kLogFlushTimeout);
      return {kExitFailure, std::move(text)};
    }
  }

  const ControlChannel control(service, bound.port);  // before "listening": health --set works from then on
  // Every thread runs before "listening": a client told so is served at once,
  // and a signal from then on finds only the main thread waiting for it.
  engine.start([&signals] { signals.wake(); });

  std::vector<LogField> listening{{"host", cfg.host},
                                  {"port", bound.port},
                                  {"service", core::kServiceName},
                                  {"version", build.version},
                                  {"pid", static_cast<std::int64_t>(::getpid())},
                                  {"threads", ec.loops},
                                  {"max_connections", ec.max_connections}};
  if (tls) listening.push_back({"tls_port", tls_bound.port});
  if (!cfg.upstreams.urls.empty()) listening.push_back({"upstreams", cfg.upstreams.urls.size()});
  if (tracing.exporter) listening.push_back({"traces_endpoint", tracing.endpoint});
  logger.log(core::LogLevel::Info, "listening", listening);
  logger.log(core::LogLevel::Debug, "limits",
             {{"request_timeout", core::format_duration(ec.timeouts.request)},
              {"idle_timeout", core::format_duration(ec.timeouts.idle)},
              {"write_timeout", core::format_duration(ec.timeouts.write)},
              {"keep_alive_requests", ec.limits.max_requests},
              {"max_line_bytes", ec.limits.max_line},
              {"max_header_fields", ec.limits.max_fields},
              {"max_head_bytes", ec.limits.max_head},
              {"max_body_bytes", static_cast<std::size_t>(ec.limits.max_body)},
              {"shutdown_delay", core::format_duration(cfg.shutdown_delay)},
              {"shutdown_timeout", core::format_duration(cfg.shutdown_timeout)}});

  std::unique_ptr<FileWatch> watch;
  if (live) {
    watch = std::make_unique<FileWatch>(
        std::vector<std::string>{live->path()}, std::vector<std::string>{live->start_text()},
        [&live](const std::vector<std::string>& texts) { return live->apply(texts.front()); },
        [](bool ok) {
          (ok ? metrics.config.success : metrics.config.failure).fetch_add(1, std::memory_order_relaxed);
          metrics.config.last_failed.store(!ok, std::memory_order_relaxed);
        },
        FileWatch::Words{"config file", "config reload failed, keeping the last good configuration",
                         "the last good configuration"},
        logger);
  }
  if (tls) tls->watch();
  // The next signal or wake-up; with a config file or TLS, SIGHUP reloads
  // them and waiting goes on (without either, SIGHUP ends the server, as it
  // always did).
  auto next_event = [&](std::optional<SteadyClock::time_point> until) {
    while (true) {
      std::optional<std::chrono::milliseconds> left;
      if (until)
        left = std::max(std::chrono::milliseconds(0),
                        std::chrono::duration_cast<std::chrono::milliseconds>(*until - SteadyClock::now()));
      const auto w = signals.wait(left);
      if (w.event != SignalWatch::Event::Signal || w.signal != SIGHUP || (!watch && !tls)) return w;
      if (watch) {
        logger.log(core::LogLevel::Info, "reloading the config file", {{"signal", "SIGHUP"}, {"file", live->path()}});
        watch->reload_now();
      }
      if (tls) {
        logger.log(core::LogLevel::Info, "reloading the TLS certificate",
                   {{"signal", "SIGHUP"}, {"file", cfg.tls.cert}});
        tls->reload_now();
      }
    }
  };

  const auto first = next_event(std::nullopt);
  if (first.event != SignalWatch::Event::Signal) {  // the loops ended by themselves
    const std::string text = "the event loops stopped unexpectedly";
    logger.log(core::LogLevel::Error, "listener failed", {{"error_type", "engine"}, {"error", text}});
    exit_now(writer);
  }
  service.begin_shutdown();  // /ready 503 from now on
  const auto shutdown_delay = live ? live->shutdown_delay() : cfg.shutdown_delay;
  const auto shutdown_timeout = live ? live->shutdown_timeout() : cfg.shutdown_timeout;
  logger.log(core::LogLevel::Info, "shutting down",
             {{"signal", signal_name(first.signal)},
              {"in_flight", metrics.in_progress()},
              {"delay", core::format_duration(shutdown_delay)},
              {"timeout", core::format_duration(shutdown_timeout)}});
  auto cut = [&](const char* why) {
    logger.log(core::LogLevel::Warning, "exiting before requests in flight completed",
               {{"reason", why}, {"in_flight", engine.open_connections()}});
    (void)service.stop();  // the visit count so far to disk; the exit is a failure anyway
    exit_now(writer);
  };
  if (shutdown_delay.count() > 0) {
    // Still serving while load balancers take this instance out of rotation.
    const auto until = SteadyClock::now() + shutdown_delay;
    while (true) {
      const auto w = next_event(until);
      if (w.event == SignalWatch::Event::Signal) cut("second signal");
      if (w.event == SignalWatch::Event::TimedOut) break;
    }
  }

  service.begin_drain();
  const auto deadline = SteadyClock::now() + shutdown_timeout;
  // Returns once every loop has stopped accepting and closed its idle
  // connections: what is left is in flight.
  if (engine.drain() > 0) {
    while (!engine.stopped()) {
      if (SteadyClock::now() >= deadline) cut("shutdown timeout");
      const auto w = next_event(deadline);
      if (w.event == SignalWatch::Event::Signal) cut("second signal");
    }
  }
  engine.join();
  if (tracing.exporter) {
    // The spans still queued go out within what is left of the timeout:
    // half a second at least (the last requests' spans are the ones someone
    // is looking for), 5 seconds at most (a hanging collector must not hold
    // the exit).
    const auto left = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()),
                                 kMinSpanFlush, kMaxSpanFlush);
    if (!tracing.exporter->shutdown(left))
      logger.log(core::LogLevel::Warning, "spans not exported at exit",
                 {{"error_type", "tracing"}, {"endpoint", tracing.endpoint}});
  }
  watch.reset();  // no reload after the last request
  if (tls) tls->stop();
  // The last visit count to disk. If it cannot be written (a full disk, a
  // read-only volume), the count is lost: the exit says so to whoever
  // restarts this process.
  if (!service.stop()) {
    const auto* visits = service.visits();
    std::string text = fmt::format("the last visit count was not written: {}", visits->last_error());
    logger.log(core::LogLevel::Error, "visits lost at exit",
               {{"error_type", "storage"},
                {"error", visits->last_error()},
                {"path", visits->path()},
                {"visits", static_cast<std::int64_t>(visits->count())}});
    writer.close(kLogFlushTimeout);
    return {kExitFailure, std::move(text)};
  }
  logger.log(core::LogLevel::Info, "stopped",
             {{"uptime_seconds", core::elapsed_seconds(started, std::chrono::system_clock::now())}});
  writer.close(kLogFlushTimeout);
  return {kExitOk, {}};
}

}  // namespace devops::serve
