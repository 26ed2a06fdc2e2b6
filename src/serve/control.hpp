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
// change, or {"error":"..."} (then nothing changed).

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "serve/service.hpp"

namespace devops::serve {

// "devops-info/5000": the socket's name without the leading NUL byte.
std::string control_socket_name(int port);

class ControlChannel {
 public:
  // Listens at once; when the socket cannot be made, logs a WARNING and
  // serves nothing (the HTTP service does not depend on it).
  ControlChannel(Service& service, int port);
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  bool listening() const { return listen_fd_ >= 0; }

 private:
  void run();
  void refuse(int fd, const ucred& peer) const;
  void answer(int fd, const ucred& peer, std::string line) const;

  Service& service_;
  std::string name_;
  int listen_fd_{-1};
  int wake_fd_{-1};
  std::thread thread_;
};

// What the server answered (a line of JSON), or why there is no answer.
struct ControlReply {
  bool ok{false};
  std::string text;  // the JSON line when ok, else the error
};

// Sends one command line to the server listening on `port` (TCP) here.
ControlReply control_request(int port, std::string_view command, std::chrono::milliseconds timeout);

}  // namespace devops::serve
