// The health probe's HTTP client (cpp-httplib).
#include "serve/client/probe.hpp"

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

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

// Stops `client` at `deadline` unless finish() came first. The library's
// timeouts bound each read only: a server sending a byte every half second
// would never trip them.
class Watchdog {
 public:
  Watchdog(httplib::Client& client, std::chrono::steady_clock::time_point deadline)
      : thread_([this, &client, deadline] {
          std::unique_lock lock(mutex_);
          if (cv_.wait_until(lock, deadline, [this] { return done_; })) return;
          fired_ = true;
          // stop() only acts on an open socket: repeat until the request gives up.
          while (!cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return done_; })) client.stop();
        }) {}
  ~Watchdog() { finish(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void finish() {
    {
      const std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool fired() const { return fired_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_{false};
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

ProbeResult http_get(const core::HttpTarget& target, std::chrono::milliseconds timeout) {
  using namespace std::chrono;
  // A server that hangs up before reading the request is an error to report, not a death by SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  const auto begin = steady_clock::now();
  httplib::Client client(target.host, target.port);
  const auto sec = static_cast<time_t>(timeout.count() / 1000);
  const auto usec = static_cast<time_t>(timeout.count() % 1000 * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_follow_location(false);  // a redirect is reported, not followed
  const httplib::Headers headers{{"User-Agent", "devops-info-health/" + core::build_info().version},
                                 {"Accept", "application/json"}};
  ProbeResult out;
  bool too_large = false;
  Watchdog watchdog(client, begin + timeout);
  auto res = client.Get(
      target.path, headers, [](const httplib::Response&) { return true; },
      [&](const char* data, std::size_t n) {
        // Decompressed bytes, if the server compressed: a small bomb stops here too.
        if (out.body.size() + n > kMaxProbeBody) {
          too_large = true;
          return false;
        }
        out.body.append(data, n);
        return true;
      });
  watchdog.finish();
  if (watchdog.fired()) {
    out = {};
    out.error = NetError::TimedOut;
    return out;
  }
  if (too_large) {
    out.body.clear();
    out.body_too_large = true;
    out.status = res ? res->status : 0;
    return out;
  }
  if (!res) {
    const bool full = steady_clock::now() - begin >= timeout - milliseconds(timeout.count() / 10);
    out.body.clear();
    out.error = from_httplib(res.error(), full);
    // "Cannot connect" covers refused, unreachable and more: ask once more to say which.
    if (out.error == NetError::Connection) {
      const auto left = duration_cast<milliseconds>(begin + timeout - steady_clock::now());
      out.error = left > milliseconds(0) ? diagnose_connect(target.host, target.port, left) : NetError::TimedOut;
      if (out.error == NetError::None) out.error = NetError::Connection;
    }
    if (out.error == NetError::None) out.error = NetError::Other;
    return out;
  }
  out.status = res->status;
  out.content_type = res->get_header_value("Content-Type");
  out.location = res->get_header_value("Location");
  return out;
}

}  // namespace devops::serve
