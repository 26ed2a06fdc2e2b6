#include "core/fd.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace devops::core {

void Fd::reset(int fd) noexcept {
  if (fd_ >= 0 && fd_ != fd) ::close(fd_);
  fd_ = fd;
}

namespace {

template <typename Write>
bool all(std::string_view data, Write write) {
  while (!data.empty()) {
    const auto n = write(data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

bool write_all(int fd, std::string_view data) {
  return all(data, [fd](const char* p, std::size_t n) { return ::write(fd, p, n); });
}

bool send_all(int fd, std::string_view data) {
  return all(data, [fd](const char* p, std::size_t n) { return ::send(fd, p, n, MSG_NOSIGNAL); });
}

void notify(int eventfd) noexcept {
  const std::uint64_t one = 1;
  (void)!::write(eventfd, &one, sizeof one);
}

}  // namespace devops::core
