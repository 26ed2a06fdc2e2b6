#pragma once

// What the server does with a request, without the HTTP library: the router
// built from core::endpoints(), the handlers, the error documents, and the
// log line and metrics of each finished request. Tests drive it directly.

#include <atomic>
#include <chrono>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/endpoints.hpp"
#include "serve/http_types.hpp"
#include "serve/info_document.hpp"
#include "serve/log.hpp"
#include "serve/metrics.hpp"

namespace devops::serve {

inline constexpr std::string_view kUnknownEndpoint = "unknown";

class Service {
 public:
  using Clock = std::chrono::system_clock;

  // Throws std::logic_error when an endpoint of core::endpoints() has no handler.
  Service(InfoDocument& info, Metrics& metrics, const Logger& logger, Clock::time_point started,
          core::TestHooks test = {});

  // Answers a request; never throws (a failing handler gives 500 and an ERROR line).
  HttpResponse handle(const HttpRequest& req) noexcept;
  // The ERROR line for a request whose handling threw `ep`: its type and message.
  void log_failure(std::string_view method, std::string_view path, const std::exception_ptr& ep) const noexcept;
  // The JSON document for an error status the HTTP layer chose (400, 413, ...).
  HttpResponse error(int status, std::string_view path) const;

  // Route index for `path`, or endpoint_labels().size() - 1 ("unknown").
  std::size_t endpoint_index(std::string_view path) const;
  // The `endpoint` label values: the routes' paths, then "unknown".
  std::span<const std::string_view> endpoint_labels() const { return labels_; }

  // A request reached the router: counts it in progress unless it is a scrape
  // of /metrics (which does not count itself); true when counted.
  bool started(std::string_view path);
  // A request was answered: its metrics (`counted`: what started() returned) and its log line.
  void finished(const HttpRequest& req, int status, std::chrono::nanoseconds took, bool counted);

  // Shutdown was asked for (the --shutdown-delay before the drain): /ready
  // answers 503 from now on, /health still 200.
  void begin_shutdown() { shutting_down_.store(true, std::memory_order_relaxed); }
  // Shutdown has begun: /health and /ready answer 503 from now on.
  void begin_drain() {
    begin_shutdown();
    draining_.store(true, std::memory_order_relaxed);
  }
  bool draining() const { return draining_.load(std::memory_order_relaxed); }

  const Logger& logger() const { return logger_; }

 private:
  using Handler = HttpResponse (Service::*)(const HttpRequest&);
  struct Route {
    core::Endpoint endpoint;
    Handler handler;
  };

  HttpResponse info(const HttpRequest& req);
  HttpResponse health(const HttpRequest& req);
  HttpResponse ready(const HttpRequest& req);
  HttpResponse metrics(const HttpRequest& req);
  HttpResponse dispatch(const HttpRequest& req);

  InfoDocument& info_;
  Metrics& metrics_;
  const Logger& logger_;
  Clock::time_point started_;
  core::TestHooks test_;
  std::vector<Route> routes_;
  std::vector<std::string_view> labels_;
  std::size_t metrics_route_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> draining_{false};
};

}  // namespace devops::serve
