#pragma once

// The control channel of `serve`: a Linux abstract unix socket named
// "@devops-info/<port>" on which a process of the same user (or root) in the
// same network namespace (the same pod) flips readiness and health, as
// `devops-info health --set ready=false` does. It is not a file (a read-only
// root is fine) and not reachable over the network; one small thread serves
// it, apart from the HTTP engine, every client at once: a process of another
// user is refused at accept, and a silent client is dropped after a second
// without delaying the others.
//
// Protocol: one line in, one line of JSON out. In: "" or space-separated
// "ready=BOOL" / "healthy=BOOL". Out: {"ready":true,"healthy":true} after the
// change, or {"error":"..."} (then nothing changed). The client is
// serve/client/control_client.hpp.

#include <sys/socket.h>

#include <string>
#include <thread>

#include "core/fd.hpp"
#include "serve/app/service.hpp"

namespace devops::serve {

class ControlChannel {
 public:
  // Listens at once; when the socket cannot be made, logs a WARNING and
  // serves nothing (the HTTP service does not depend on it).
  ControlChannel(Service& service, int port);
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  bool listening() const { return listen_fd_.valid(); }

 private:
  void run();
  void refuse(int fd, const ucred& peer) const;
  void answer(int fd, const ucred& peer, std::string line) const;

  Service& service_;
  std::string name_;
  core::Fd listen_fd_;
  core::Fd wake_fd_;
  std::thread thread_;
};

}  // namespace devops::serve
