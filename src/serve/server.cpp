// The HTTP server: cpp-httplib wired to the Service, the worker pool, the
// limits and the shutdown sequence.
#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <thread>
#include <type_traits>

#include "core/build_info.hpp"
#include "core/collect.hpp"
#include "core/config.hpp"
#include "core/exit_codes.hpp"
#include "core/timefmt.hpp"
#include "serve/control.hpp"
#include "serve/info_document.hpp"
#include "serve/log.hpp"
#include "serve/metrics.hpp"
#include "serve/net_error.hpp"
#include "serve/serve.hpp"
#include "serve/service.hpp"
#include "serve/signals.hpp"
#include "serve/worker_pool.hpp"

namespace devops::serve {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Limits that keep one client from hurting the others.
constexpr time_t kReadTimeoutSeconds = 5;                      // per read: a client that stops sending is dropped
constexpr time_t kWriteTimeoutSeconds = 5;                     // per write: a client that stops reading is dropped
constexpr time_t kKeepAliveSeconds = 5;                        // an idle kept-alive connection is closed after this
constexpr std::size_t kKeepAliveRequests = 1000;               // requests per connection
constexpr std::size_t kMaxBodyBytes = std::size_t{64} * 1024;  // larger bodies get 413 (no route takes a body)
constexpr auto kWorkerIdleTimeout = std::chrono::seconds(10);
constexpr auto kReportMaxAge = std::chrono::seconds(1);

// The request a worker thread is answering (one connection per thread, one
// request at a time): when it reached the router, for the log and metrics.
struct RequestContext {
  SteadyClock::time_point start{};
  bool active = false;    // between the router and the log line
  bool counted = false;   // counted in http_requests_in_progress
  bool deferred = false;  // has a body: routed after the library read it
};
thread_local RequestContext t_request;

// Request fields the Service reads; owns the one header it copies.
struct RequestView {
  std::string user_agent;
  HttpRequest req;
  explicit RequestView(const httplib::Request& r) : user_agent(r.get_header_value("User-Agent")) {
    std::string_view ip = r.remote_addr;
    // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d.
    if (ip.starts_with("::ffff:") && ip.find('.') != std::string_view::npos) ip.remove_prefix(7);
    req = {r.method, r.path, ip, user_agent};
  }
};

void write_response(HttpResponse&& r, bool close, httplib::Response& res) {
  res.status = r.status;
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Cache-Control", "no-store");
  if (!r.allow.empty()) res.set_header("Allow", std::string(r.allow));
  if (close) res.set_header("Connection", "close");  // draining, or a broken request
  res.body = std::move(r.body);
  res.set_header("Content-Type", std::string(r.content_type));
}

void answer(Service& service, const httplib::Request& req, httplib::Response& res) {
  const RequestView view(req);
  auto r = service.handle(view.req);
  if (r.delay.count() > 0) std::this_thread::sleep_for(r.delay);  // stop-gap: holds this connection's thread
  write_response(std::move(r), service.draining(), res);
}

// By RFC 9112 a request without Content-Length or Transfer-Encoding has no body.
bool has_body(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  const auto length = req.get_header_value("Content-Length");
  return !length.empty() && length != "0";
}

// cpp-httplib's connection queue, on the WorkerPool. enqueue() returns void
// in cpp-httplib 0.11 and bool in later versions; this fits both.
class PoolQueue final : public httplib::TaskQueue {
  using EnqueueResult = decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>{}));

 public:
  PoolQueue(WorkerPool& pool, Metrics& metrics) : pool_(pool), metrics_(metrics) {}

  EnqueueResult enqueue(std::function<void()> fn) override {
    const bool ok = pool_.submit([this, fn = std::move(fn)] {
      fn();
      // A request whose log line never came (the connection broke mid-way)
      // is no longer in progress.
      if (t_request.counted) metrics_.finished();
      t_request = {};
    });
    return static_cast<EnqueueResult>(ok);
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  WorkerPool& pool_;
  Metrics& metrics_;
};

std::string bind_error_text(const std::string& host, int port, NetError e) {
  std::string text = fmt::format("cannot listen on {}:{}: {}", host, port, describe(e));
  if (e == NetError::AddressInUse) text += fmt::format(" (another process is listening on port {})", port);
  if (e == NetError::AccessDenied && port < 1024) text += " (ports below 1024 need privileges)";
  return text;
}

}  // namespace

RunResult run(const core::ServeConfig& cfg) {
  // With stdin, stdout or stderr closed, the listening socket or a client's
  // would take its number, and the log would go to a client: fill the gaps.
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) (void)::open("/dev/null", O_RDWR | O_CLOEXEC);
  }
  const auto started = core::process_start();
  const Logger logger(cfg.log_format, cfg.log_level, STDOUT_FILENO);
  // Zero-initialised in .bss: the counters no request touched take no memory.
  static constinit Metrics metrics;
  InfoDocument info([] { return core::collect_report(core::real_host()); }, kReportMaxAge, started);
  Service service(
      info, metrics, logger, started, cfg.switches,
      cfg.data_dir.empty() ? nullptr : std::make_unique<VisitCounter>(cfg.data_dir, logger, cfg.flush_interval));
  // When a burst is over, give the memory its threads used back to the system.
  WorkerPool pool(cfg.max_threads, kWorkerIdleTimeout, 1, [] { ::malloc_trim(0); });
  SignalWatch signals;  // before bind: a SIGTERM from now on is not lost

  httplib::Server svr;
  svr.new_task_queue = [&pool] { return new PoolQueue(pool, metrics); };
  svr.set_read_timeout(kReadTimeoutSeconds, 0);
  svr.set_write_timeout(kWriteTimeoutSeconds, 0);
  svr.set_keep_alive_timeout(kKeepAliveSeconds);
  svr.set_keep_alive_max_count(kKeepAliveRequests);
  svr.set_payload_max_length(kMaxBodyBytes);
  svr.set_tcp_nodelay(true);
  int listen_fd = -1;
  // Replaces the library's default, SO_REUSEPORT, which would let a second
  // server share the port instead of failing with "address in use".
  svr.set_socket_options([&listen_fd](int sock) {
    const int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    listen_fd = sock;
  });

  svr.set_pre_routing_handler([&service](const httplib::Request& req, httplib::Response& res) {
    auto& ctx = t_request;
    ctx = {SteadyClock::now(), true, service.started(req.path), false};
    // No route serves partial content: ignore Range, as Go's net/http does
    // for generated answers. (The request object itself is not const.)
    if (!req.ranges.empty()) const_cast<httplib::Request&>(req).ranges.clear();
    if (has_body(req)) {
      ctx.deferred = true;  // let the library read (or refuse, 413) the body first
      return httplib::Server::HandlerResponse::Unhandled;
    }
    answer(service, req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  // Every status >= 400 passes here. Ours already have a body; the library's
  // own (400, 404 for a request with a body, 413, 414) get a JSON document.
  svr.set_error_handler(
      httplib::Server::HandlerWithResponse([&service](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (t_request.active && t_request.deferred && res.status == 404) {
          answer(service, req, res);  // the body was read: route it now
        } else {
          // A request that could not even be parsed leaves the stream in an
          // unknown state: ask the client to close the connection.
          write_response(service.error(res.status, req.path), service.draining() || !t_request.active, res);
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [&service](const httplib::Request& req, httplib::Response& res, const std::exception_ptr& ep) {
        service.log_failure(req.method, req.path, ep);
        write_response(service.error(500, req.path), service.draining(), res);
      });
  svr.set_logger([&service](const httplib::Request& req, const httplib::Response& res) {
    auto& ctx = t_request;
    const auto took = ctx.active ? SteadyClock::now() - ctx.start : SteadyClock::duration::zero();
    const RequestView view(req);
    service.finished(view.req, res.status, took, ctx.active && ctx.counted);
    ctx = {};
  });

  // Numeric addresses only: nothing here may need a resolver (static builds).
  const int flags = AI_NUMERICHOST | AI_PASSIVE;
  int port = cfg.port;
  const bool bound =
      port == 0 ? (port = svr.bind_to_any_port(cfg.host, flags)) > 0 : svr.bind_to_port(cfg.host, port, flags);
  if (!bound) {
    const auto e = diagnose_bind(cfg.host, cfg.port);
    std::string text = bind_error_text(cfg.host, cfg.port, e);
    logger.log(core::LogLevel::Error, "cannot listen",
               {{"error_type", "bind"}, {"error", text}, {"host", cfg.host}, {"port", cfg.port}});
    return {kExitFailure, std::move(text)};
  }
  // The library listens with a backlog of 5; a burst of new connections
  // needs more (listen(2) again only resizes the queue).
  if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  const ControlChannel control(service, port);  // before "listening": health --set works from then on

  const auto& build = core::build_info();
  logger.log(core::LogLevel::Info, "listening",
             {{"host", cfg.host},
              {"port", port},
              {"service", core::kServiceName},
              {"version", build.version},
              {"pid", static_cast<std::int64_t>(::getpid())},
              {"max_threads", cfg.max_threads}});
  logger.log(core::LogLevel::Debug, "limits",
             {{"read_timeout_s", static_cast<std::int64_t>(kReadTimeoutSeconds)},
              {"write_timeout_s", static_cast<std::int64_t>(kWriteTimeoutSeconds)},
              {"keep_alive_s", static_cast<std::int64_t>(kKeepAliveSeconds)},
              {"keep_alive_requests", kKeepAliveRequests},
              {"max_body_bytes", kMaxBodyBytes},
              {"shutdown_timeout", core::format_duration(cfg.shutdown_timeout)}});

  std::atomic<bool> listener_done{false};
  std::thread lifecycle([&] {
    const auto first = signals.wait();
    if (first.event != SignalWatch::Event::Signal) return;  // the listener stopped by itself
    service.begin_drain();
    logger.log(core::LogLevel::Info, "shutting down",
               {{"signal", signal_name(first.signal)},
                {"in_flight", metrics.in_progress()},
                {"timeout", core::format_duration(cfg.shutdown_timeout)}});
    const auto deadline = SteadyClock::now() + cfg.shutdown_timeout;
    // stop() only acts on a running listener: wait for the accept loop.
    while (!svr.is_running() && !listener_done.load() && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!listener_done.load()) svr.stop();
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      const auto w = signals.wait(std::max(left, std::chrono::milliseconds(0)));
      if (w.event == SignalWatch::Event::Woken) return;
      const char* why = w.event == SignalWatch::Event::Signal ? "second signal" : "shutdown timeout";
      logger.log(core::LogLevel::Warning, "exiting before requests in flight completed",
                 {{"reason", why}, {"in_flight", metrics.in_progress()}});
      ::_exit(kExitFailure);
    }
  });

  const bool ok = svr.listen_after_bind();  // returns once stopped and drained
  const int listen_errno = errno;
  service.stop();  // the last visit count to disk
  listener_done = true;
  signals.wake();
  lifecycle.join();
  if (!ok) {
    std::string text = "the listener failed: " + std::system_category().message(listen_errno);
    logger.log(core::LogLevel::Error, "listener failed", {{"error_type", "accept"}, {"error", text}});
    return {kExitFailure, std::move(text)};
  }
  logger.log(core::LogLevel::Info, "stopped",
             {{"uptime_seconds", core::elapsed_seconds(started, std::chrono::system_clock::now())}});
  return {kExitOk, {}};
}

}  // namespace devops::serve
