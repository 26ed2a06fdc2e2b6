#include "serve/client/control_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "core/config_values.hpp"
#include "core/fd.hpp"
#include "core/host.hpp"

namespace devops::serve {

namespace {

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(t.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Reads up to a newline (not included); nullopt on error, timeout or a line too long.
std::optional<std::string> read_line(int fd) {
  std::string line;
  char buf[256];
  while (line.find('\n') == std::string::npos) {
    if (line.size() > kControlMaxLine) return std::nullopt;
    const auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  const auto nl = line.find('\n');
  if (nl != std::string::npos) line.resize(nl);
  if (line.size() > kControlMaxLine) return std::nullopt;
  return line;
}

}  // namespace

std::string control_socket_name(int port) {
  return fmt::format("devops-info/{}", port);
}

socklen_t control_address(const std::string& name, sockaddr_un& addr) {
  // sun_path starts with a NUL byte; the length counts the name exactly (no
  // terminating NUL).
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  const auto n = std::min(name.size(), sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

ControlReply control_request(int port, std::string_view command, std::chrono::milliseconds timeout) {
  const std::string name = control_socket_name(port);
  const core::Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return {false, core::errno_text(errno)};
  const int fd = sock.get();
  set_timeouts(fd, timeout);
  sockaddr_un addr{};
  const auto len = control_address(name, addr);
  ControlReply out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    out.text =
        errno == ECONNREFUSED
            ? fmt::format("no server on port {} listens for control here (socket @{}: connection refused)", port, name)
            : fmt::format("socket @{}: {}", name, core::errno_text(errno));
  } else if (const bool sent = core::send_all(fd, std::string(command) + "\n"); auto line = read_line(fd)) {
    // Read even when sending failed: the server may have answered why it closed.
    if (line->empty()) {
      out.text = sent ? fmt::format("socket @{}: no answer within {}", name, core::format_duration(timeout))
                      : fmt::format("socket @{}: cannot send: {}", name, core::errno_text(errno));
    } else {
      out.ok = true;
      out.text = std::move(*line);
    }
  } else {
    out.text = fmt::format("socket @{}: no answer within {}", name, core::format_duration(timeout));
  }
  return out;
}

}  // namespace devops::serve
