#pragma once

// What the engine needs of the application behind its connections: answers,
// the error documents for refusals, and the bookkeeping of each request. The
// Service implements it; the engine knows no more of it than this.

#include <chrono>
#include <string_view>

#include "serve/http/http_types.hpp"

namespace devops::serve {

class HttpService {
 public:
  virtual ~HttpService() = default;
  // A request reached the application; true when it counts as in progress.
  virtual bool started(std::string_view path) = 0;
  // Its answer; never throws.
  virtual HttpResponse handle(const HttpRequest& req) noexcept = 0;
  // The answer to a request the protocol refused (400, 413, ...).
  virtual HttpResponse error(int status, std::string_view path) const = 0;
  // The answer is on its way: metrics and the log line (`counted`: what
  // started() returned).
  virtual void finished(const HttpRequest& req, int status, std::chrono::nanoseconds took, bool counted) = 0;
  // A request counted by started() will never be answered (its connection
  // closed while the answer was held back).
  virtual void abandoned() = 0;
  // Shutdown has begun: every answer closes its connection.
  virtual bool draining() const = 0;

 protected:
  HttpService() = default;
  HttpService(const HttpService&) = default;
  HttpService& operator=(const HttpService&) = default;
};

}  // namespace devops::serve
