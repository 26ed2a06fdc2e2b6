#include "serve/control.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <vector>

#include "core/config.hpp"
#include "core/host.hpp"
#include "core/render.hpp"
#include "serve/worker_thread.hpp"

namespace devops::serve {

namespace {

constexpr std::size_t kMaxLine = 512;
constexpr auto kClientTimeout = std::chrono::seconds(1);  // to send a whole line
constexpr std::size_t kMaxClients = 16;                   // at once; past it the oldest is dropped
using SteadyClock = std::chrono::steady_clock;

// The abstract address: sun_path starts with a NUL byte; the length counts
// the name exactly (no terminating NUL).
socklen_t abstract_address(const std::string& name, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  const auto n = std::min(name.size(), sizeof(addr.sun_path) - 1);
  std::memcpy(addr.sun_path + 1, name.data(), n);
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(t.count() % 1000 * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads up to a newline (not included); nullopt on error, timeout or a line too long.
std::optional<std::string> read_line(int fd) {
  std::string line;
  char buf[256];
  while (line.find('\n') == std::string::npos) {
    if (line.size() > kMaxLine) return std::nullopt;
    const auto n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  const auto nl = line.find('\n');
  if (nl != std::string::npos) line.resize(nl);
  if (line.size() > kMaxLine) return std::nullopt;
  return line;
}

std::string state_json(const Service& s) {
  return core::render_json({{"ready", s.ready()}, {"healthy", s.healthy()}}, core::JsonStyle::Compact);
}

std::string error_json(std::string_view why) {
  return core::render_json({{"error", why}}, core::JsonStyle::Compact);
}

}  // namespace

std::string control_socket_name(int port) {
  return fmt::format("devops-info/{}", port);
}

ControlChannel::ControlChannel(Service& service, int port) : service_(service), name_(control_socket_name(port)) {
  const auto& log = service_.logger();
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  const auto len = abstract_address(name_, addr);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (listen_fd_ < 0 || wake_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 8) != 0) {
    const int e = errno;
    log.log(core::LogLevel::Warning, "no control channel: health --set will not reach this server",
            {{"socket", "@" + name_}, {"error", core::errno_text(e)}});
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    listen_fd_ = wake_fd_ = -1;
    return;
  }
  log.log(core::LogLevel::Debug, "control channel", {{"socket", "@" + name_}});
  thread_ = worker_thread([this] { run(); });
}

ControlChannel::~ControlChannel() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void ControlChannel::run() {
  // Every client at once, each with its own deadline, so that none delays
  // another: a silent one is dropped after a second; past kMaxClients, the
  // oldest makes room. A process of another user is refused at accept,
  // before anything of it is read.
  struct Client {
    int fd{-1};
    ucred peer{};
    std::string line;
    SteadyClock::time_point deadline{};
  };
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  auto drop = [&clients](std::size_t i) {
    ::close(clients[i].fd);
    clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i));
  };
  while (true) {
    fds.assign({{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}});
    auto next = SteadyClock::time_point::max();
    for (const auto& c : clients) {
      fds.push_back({c.fd, POLLIN, 0});
      next = std::min(next, c.deadline);
    }
    int wait_ms = -1;
    if (!clients.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - SteadyClock::now()).count();
      wait_ms = static_cast<int>(std::clamp<std::int64_t>(left + 1, 0, 1000));
    }
    const int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n < 0 && errno != EINTR) return;
    if (n > 0 && (fds[1].revents & POLLIN) != 0) break;
    // The clients first (their indexes match fds[2...] until one is dropped).
    for (std::size_t i = clients.size(); i-- > 0;) {
      if (n <= 0 || fds[i + 2].revents == 0) continue;
      auto& c = clients[i];
      char buf[256];
      const auto got = ::recv(c.fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got > 0) c.line.append(buf, static_cast<std::size_t>(got));
      const bool complete = got == 0 || c.line.find('\n') != std::string::npos;
      if (!complete && c.line.size() <= kMaxLine) continue;
      if (got >= 0) answer(c.fd, c.peer, c.line);
      drop(i);
    }
    const auto now = SteadyClock::now();
    for (std::size_t i = clients.size(); i-- > 0;) {
      if (clients[i].deadline <= now) drop(i);  // said nothing whole within a second
    }
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) continue;
      ucred peer{};
      socklen_t peer_len = sizeof(peer);
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0) {
        ::close(fd);
        continue;
      }
      if (peer.uid != ::geteuid() && peer.uid != 0) {
        refuse(fd, peer);
        ::close(fd);
        continue;
      }
      if (clients.size() >= kMaxClients) drop(0);  // the oldest
      clients.push_back({fd, peer, {}, now + kClientTimeout});
    }
  }
  for (auto& c : clients) ::close(c.fd);
}

void ControlChannel::refuse(int fd, const ucred& peer) const {
  service_.logger().log(core::LogLevel::Warning, "control channel: refused a process of another user",
                        {{"uid", static_cast<std::int64_t>(peer.uid)}, {"pid", static_cast<std::int64_t>(peer.pid)}});
  // Before reading anything: if the client's own send then fails, it still
  // reads this (control_request reads after a failed send).
  (void)send_all(fd, error_json("permission denied: only the server's user or root may change it"));
}

void ControlChannel::answer(int fd, const ucred& peer, std::string line) const {
  const auto& log = service_.logger();
  const auto nl = line.find('\n');
  if (nl != std::string::npos) line.resize(nl);
  if (line.size() > kMaxLine) {
    (void)send_all(fd, error_json("expected one line of at most 512 bytes"));
    return;
  }
  // Check every word before changing anything.
  std::optional<bool> ready;
  std::optional<bool> healthy;
  std::string_view rest = line;
  while (!rest.empty()) {
    const auto space = rest.find(' ');
    const auto word = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (word.empty()) continue;
    const auto eq = word.find('=');
    const auto key = word.substr(0, eq);
    const auto value = eq == std::string_view::npos ? std::string_view() : word.substr(eq + 1);
    const auto on = value.empty() ? std::nullopt : core::parse_bool(value);
    if (!on || (key != "ready" && key != "healthy")) {
      (void)send_all(fd, error_json(fmt::format("'{}' is not ready=BOOL or healthy=BOOL", word)));
      return;
    }
    (key == "ready" ? ready : healthy) = *on;
  }
  if (ready) service_.set_ready(*ready);
  if (healthy) service_.set_healthy(*healthy);
  if (ready || healthy) {
    log.log(core::LogLevel::Warning, "probe switches changed",
            {{"ready", service_.ready()},
             {"healthy", service_.healthy()},
             {"by_pid", static_cast<std::int64_t>(peer.pid)},
             {"by_uid", static_cast<std::int64_t>(peer.uid)}});
  }
  (void)send_all(fd, state_json(service_));
}

ControlReply control_request(int port, std::string_view command, std::chrono::milliseconds timeout) {
  const std::string name = control_socket_name(port);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, core::errno_text(errno)};
  set_timeouts(fd, timeout);
  sockaddr_un addr{};
  const auto len = abstract_address(name, addr);
  ControlReply out;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    out.text =
        errno == ECONNREFUSED
            ? fmt::format("no server on port {} listens for control here (socket @{}: connection refused)", port, name)
            : fmt::format("socket @{}: {}", name, core::errno_text(errno));
  } else if (const bool sent = send_all(fd, std::string(command) + "\n"); auto line = read_line(fd)) {
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
  ::close(fd);
  return out;
}

}  // namespace devops::serve
