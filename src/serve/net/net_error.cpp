#include "serve/net/net_error.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "core/fd.hpp"

namespace devops::serve {

const char* describe(NetError e) {
  switch (e) {
    case NetError::None: return "no error";
    case NetError::AddressInUse: return "address already in use";
    case NetError::AccessDenied: return "permission denied";
    case NetError::AddressUnavailable: return "no local interface has this address";
    case NetError::Refused: return "connection refused";
    case NetError::TimedOut: return "timed out";
    case NetError::Unreachable: return "host unreachable";
    case NetError::Connection: return "cannot connect";
    case NetError::Resolve: return "cannot resolve the host name";
    case NetError::Read: return "connection closed or broken before a complete answer";
    case NetError::Write: return "cannot send the request";
    case NetError::Tls: return "TLS handshake failed";
    case NetError::Other: return "network error";
  }
  return "network error";
}

NetError from_errno(int err) {
  switch (err) {
    case EADDRINUSE: return NetError::AddressInUse;
    case EACCES:
    case EPERM: return NetError::AccessDenied;
    case EADDRNOTAVAIL: return NetError::AddressUnavailable;
    case ECONNREFUSED: return NetError::Refused;
    case ETIMEDOUT: return NetError::TimedOut;
    case EHOSTUNREACH:
    case ENETUNREACH: return NetError::Unreachable;
    default: return NetError::Other;
  }
}

bool make_address(const std::string& host, int port, sockaddr_storage& ss, socklen_t& len) {
  ss = {};
  const auto p = htons(static_cast<std::uint16_t>(port));
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = p;
    len = sizeof(sockaddr_in);
    return true;
  }
  ss = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = p;
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

NetError diagnose_connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!make_address(host, port, ss, len)) return NetError::Connection;
  const core::Fd sock(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) return from_errno(errno);
  const int fd = sock.get();
  NetError e = NetError::Connection;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    e = NetError::None;  // it answers now
  } else if (errno != EINPROGRESS) {
    e = from_errno(errno);
  } else {
    pollfd p{fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (ready == 0) {
      e = NetError::TimedOut;
    } else if (ready > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == 0) {
      e = err == 0 ? NetError::None : from_errno(err);
    }
  }
  if (e == NetError::Other) e = NetError::Connection;
  return e;
}

}  // namespace devops::serve
