#pragma once

// One client connection whose every step ends by one deadline: connecting
// (each of the name's addresses in turn), TLS when asked, sending, waiting
// for the answer. What the probes (`health --url`) read and write through.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/probe_url.hpp"
#include "serve/net/net_error.hpp"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace devops::serve {

// How a TLS client proves the server and itself.
struct TlsClientOptions {
  std::string cacert;     // PEM CAs to verify the server against; empty: the system's (none in a scratch image)
  bool insecure{false};   // no verification at all: encrypted, but the server unproven
  std::string cert, key;  // a client certificate and its key, for mutual TLS
};

class ClientSocket {
 public:
  using Clock = std::chrono::steady_clock;

  // Connects to target.host:target.port by `deadline`; on failure the
  // socket is not valid() and error() says why (Resolve, Refused, TimedOut, ...).
  ClientSocket(const core::HttpTarget& target, Clock::time_point deadline);

  ~ClientSocket();
  ClientSocket(const ClientSocket&) = delete;
  ClientSocket& operator=(const ClientSocket&) = delete;

  // TLS from here on, by the deadline: the server's certificate verified
  // for `host` (a name or an address) unless `o.insecure`, offering `alpn`
  // (wire format: "\x02h2"). False with error() NetError::Tls and problem()
  // saying why ("certificate verify failed: ...").
  bool start_tls(const TlsClientOptions& o, const std::string& host, std::string_view alpn);
  const std::string& problem() const { return problem_; }

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  NetError error() const { return error_; }
  Clock::time_point deadline() const { return deadline_; }

  // Sends all of `data` by the deadline; false (error() set) otherwise.
  bool send_all(std::string_view data);
  // Waits for input until the deadline: the bytes read, 0 at the end of the
  // stream, -1 on an error or the deadline (error() says which).
  ssize_t receive(char* buf, std::size_t size);
  // Milliseconds to the deadline, for poll(); 0 once passed.
  int ms_left() const;

 private:
  // Waits for the socket to be readable (or writable) by the deadline.
  bool wait_for(bool write);

  core::Fd fd_;
  Clock::time_point deadline_;
  NetError error_{NetError::None};
  std::string problem_;
  SSL_CTX* ctx_{nullptr};
  SSL* ssl_{nullptr};
};

}  // namespace devops::serve
