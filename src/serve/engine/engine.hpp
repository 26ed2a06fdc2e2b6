#pragma once

// The connection layer of `serve`: a few event loops (epoll, non-blocking
// sockets, one thread each) that share the listening sockets (the plain
// port, and the TLS port when there is one). Each connection is a
// ConnProtocol (made by its listener's factory) fed with the bytes read, through which an HttpService
// (the Service) answers its requests on the loop; the engine counts its
// connections in ConnectionStats, which the metrics read. Deadlines are
// timers, every buffer is bounded, and no client can hold a thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"
#include "serve/engine/next_step.hpp"
#include "serve/http/conn_protocol.hpp"
#include "serve/http/http_service.hpp"
#include "serve/net/connection_stats.hpp"
#include "serve/net/loop_side.hpp"
#include "serve/net/net_error.hpp"

namespace devops::serve {

class Logger;

// At --max-connections an event loop with nothing of its own idle for a
// moment admits a new connection and has another loop close one of its
// idle ones: the connections open may pass the limit by this many meanwhile.
inline constexpr std::size_t kConnectionsOverLimit = 8;

// Makes the protocol of a new connection from its peer's address.
using ProtocolFactory = std::function<std::unique_ptr<ConnProtocol>(const HttpLimits&, HttpService&, std::string peer)>;
// Makes what else lives on a loop (the upstream client), given its Reactor.
using SideFactory = std::function<std::unique_ptr<LoopSide>(Reactor&)>;

struct EngineConfig {
  std::size_t loops{1};
  ProtocolFactory protocol;  // required: the protocol of listen()'s connections unless it names another
  std::size_t max_connections{10'000};
  HttpLimits limits{};
  ConnTimeouts timeouts{};
  SideFactory side{};  // none: the loops serve and call nothing
};

class Engine {
 public:
  class Loop;  // one event loop (engine_loop.hpp)

  Engine(HttpService& service, ConnectionStats& stats, const Logger& logger, EngineConfig config);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  struct Bound {
    NetError error{NetError::None};
    int port{0};  // the port bound (the one the kernel chose for port 0)
  };
  // Binds and listens on a numeric address (before start(); more than one
  // listener may be added), its connections made by `protocol`, or by
  // EngineConfig::protocol when it is empty.
  Bound listen(const std::string& host, int port, ProtocolFactory protocol = {});
  // Starts the loops; `stopped` is called once, from the last loop to end.
  void start(std::function<void()> stopped);
  // Stops accepting, closes the listener, idle connections and requests not
  // yet complete, and lets the loops end once the answers in flight are
  // written. Returns when every loop has done so, with the number of
  // connections still open (0: nothing in flight).
  std::int64_t drain();
  // The service's state changed (HttpService::changes()): every loop has its
  // open streams asked again. From any thread.
  void notify();
  // Every loop has ended.
  bool stopped() const { return running_.load() == 0 && started_; }
  // Connections still open (during a drain: requests still in flight).
  std::int64_t open_connections() const;
  // Joins the loops (after stopped()).
  void join();

 private:
  friend class Loop;

  HttpService& service_;
  ConnectionStats& stats_;
  const Logger& logger_;
  EngineConfig config_;
  struct Listener {
    core::Fd fd;
    ProtocolFactory protocol;
  };
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool started_{false};
  std::atomic<bool> notifiable_{false};  // the loops exist: notify() may reach them
  std::atomic<std::size_t> running_{0};
  std::mutex drain_mu_;
  std::condition_variable drain_cv_;
  std::size_t drained_{0};  // loops that have begun their drain
  std::function<void()> on_stopped_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace devops::serve
