#include "serve/client/client_socket.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>

namespace devops::serve {

ClientSocket::ClientSocket(const core::HttpTarget& t, Clock::time_point deadline) : deadline_(deadline) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const auto port = std::to_string(t.port);
  if (::getaddrinfo(t.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    error_ = NetError::Resolve;
    return;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  error_ = NetError::Connection;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    core::Fd fd(::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        error_ = from_errno(errno);
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      const int ready = ::poll(&p, 1, ms_left());
      if (ready == 0) {
        error_ = NetError::TimedOut;
        return;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (ready < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        error_ = from_errno(err != 0 ? err : errno);
        continue;
      }
    }
    error_ = NetError::None;
    fd_ = std::move(fd);
    return;
  }
  if (error_ == NetError::Other) error_ = NetError::Connection;
}

int ClientSocket::ms_left() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

bool ClientSocket::send_all(std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      error_ = NetError::Write;
      return false;
    }
    pollfd p{fd_.get(), POLLOUT, 0};
    if (::poll(&p, 1, ms_left()) <= 0) {
      error_ = NetError::TimedOut;
      return false;
    }
  }
  return true;
}

ssize_t ClientSocket::receive(char* buf, std::size_t size) {
  while (true) {
    const auto n = ::recv(fd_.get(), buf, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      error_ = NetError::Read;
      return -1;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    if (Clock::now() >= deadline_ || ::poll(&p, 1, ms_left()) <= 0) {
      error_ = NetError::TimedOut;
      return -1;
    }
  }
}

}  // namespace devops::serve
