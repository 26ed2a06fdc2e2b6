// The health probe's HTTP client (cpp-httplib).
#include "serve/probe.hpp"

#include <httplib.h>

#include <csignal>

#include "core/build_info.hpp"

namespace devops::serve {

namespace {

// cpp-httplib's client errors, as ours. A read that failed after the whole
// timeout is a timeout; the library does not say so itself.
NetError from_httplib(httplib::Error e, bool took_full_timeout) {
  using E = httplib::Error;
  if (e == E::Success) return NetError::None;
  if (e == E::ConnectionTimeout) return NetError::TimedOut;
  if (e == E::Connection || e == E::BindIPAddress) return NetError::Connection;
  if (e == E::Read) return took_full_timeout ? NetError::TimedOut : NetError::Read;
  if (e == E::Write) return NetError::Write;
  return NetError::Other;
}

}  // namespace

ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout) {
  using namespace std::chrono;
  // A server that hangs up before reading the request is an error to report, not a death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  httplib::Client client(target.host, target.port);
  const auto sec = static_cast<time_t>(timeout.count() / 1000);
  const auto usec = static_cast<time_t>(timeout.count() % 1000 * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  const httplib::Headers headers{{"User-Agent", "devops-info-health/" + core::build_info().version},
                                 {"Accept", "application/json"}};
  const auto begin = steady_clock::now();
  auto res = client.Get(target.path, headers);
  ProbeResult out;
  if (!res) {
    const bool full = steady_clock::now() - begin >= timeout - milliseconds(timeout.count() / 10);
    out.error = from_httplib(res.error(), full);
    // "Cannot connect" covers refused, unreachable and more: ask once more to say which.
    if (out.error == NetError::Connection) {
      out.error = diagnose_connect(target.host, target.port, timeout);
      if (out.error == NetError::None) out.error = NetError::Connection;
    }
    if (out.error == NetError::None) out.error = NetError::Other;
    return out;
  }
  out.status = res->status;
  out.content_type = res->get_header_value("Content-Type");
  out.body = std::move(res->body);
  return out;
}

}  // namespace devops::serve
