#include "serve/process/control.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <optional>
#include <vector>

#include "core/config_values.hpp"
#include "core/host.hpp"
#include "core/log_level.hpp"
#include "core/render.hpp"
#include "serve/client/control_client.hpp"
#include "serve/net/worker_thread.hpp"

namespace devops::serve {

namespace {

constexpr auto kClientTimeout = std::chrono::seconds(1);  // to send a whole line
constexpr std::size_t kMaxClients = 16;                   // at once; past it the oldest is dropped
using SteadyClock = std::chrono::steady_clock;

std::string state_json(const Service& s) {
  return core::render_json({{"ready", s.ready()}, {"healthy", s.healthy()}}, core::JsonStyle::Compact);
}

std::string error_json(std::string_view why) {
  return core::render_json({{"error", why}}, core::JsonStyle::Compact);
}

}  // namespace

ControlChannel::ControlChannel(Service& service, int port) : service_(service), name_(control_socket_name(port)) {
  const auto& log = service_.logger();
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  const auto len = control_address(name_, addr);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!listen_fd_.valid() || !wake_fd_.valid() ||
      ::bind(listen_fd_.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_.get(), 8) != 0) {
    const int e = errno;
    log.log(core::LogLevel::Warning, "no control channel: health --set will not reach this server",
            {{"socket", "@" + name_}, {"error", core::errno_text(e)}});
    listen_fd_.reset();
    wake_fd_.reset();
    return;
  }
  log.log(core::LogLevel::Debug, "control channel", {{"socket", "@" + name_}});
  thread_ = worker_thread([this] { run(); });
}

ControlChannel::~ControlChannel() {
  if (thread_.joinable()) {
    core::notify(wake_fd_.get());
    thread_.join();
  }
}

void ControlChannel::run() {
  // Every client at once, each with its own deadline, so that none delays
  // another: a silent one is dropped after a second; past kMaxClients, the
  // oldest makes room. A process of another user is refused at accept,
  // before anything of it is read.
  struct Client {
    core::Fd fd;
    ucred peer{};
    std::string line;
    SteadyClock::time_point deadline{};
  };
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  auto drop = [&clients](std::size_t i) { clients.erase(clients.begin() + static_cast<std::ptrdiff_t>(i)); };
  while (true) {
    fds.assign({{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}});
    auto next = SteadyClock::time_point::max();
    for (const auto& c : clients) {
      fds.push_back({c.fd.get(), POLLIN, 0});
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
      const auto got = ::recv(c.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got > 0) c.line.append(buf, static_cast<std::size_t>(got));
      const bool complete = got == 0 || c.line.find('\n') != std::string::npos;
      if (!complete && c.line.size() <= kControlMaxLine) continue;
      if (got >= 0) answer(c.fd.get(), c.peer, c.line);
      drop(i);
    }
    const auto now = SteadyClock::now();
    for (std::size_t i = clients.size(); i-- > 0;) {
      if (clients[i].deadline <= now) drop(i);  // said nothing whole within a second
    }
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      core::Fd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!fd.valid()) continue;
      ucred peer{};
      socklen_t peer_len = sizeof(peer);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0) continue;
      if (peer.uid != ::geteuid() && peer.uid != 0) {
        refuse(fd.get(), peer);
        continue;
      }
      if (clients.size() >= kMaxClients) drop(0);  // the oldest
      clients.push_back({std::move(fd), peer, {}, now + kClientTimeout});
    }
  }
}

void ControlChannel::refuse(int fd, const ucred& peer) const {
  service_.logger().log(core::LogLevel::Warning, "control channel: refused a process of another user",
                        {{"uid", static_cast<std::int64_t>(peer.uid)}, {"pid", static_cast<std::int64_t>(peer.pid)}});
  // Before reading anything: if the client's own send then fails, it still
  // reads this (control_request reads after a failed send).
  (void)core::send_all(fd, error_json("permission denied: only the server's user or root may change it"));
}

void ControlChannel::answer(int fd, const ucred& peer, std::string line) const {
  const auto& log = service_.logger();
  const auto nl = line.find('\n');
  if (nl != std::string::npos) line.resize(nl);
  if (line.size() > kControlMaxLine) {
    (void)core::send_all(fd, error_json("expected one line of at most 512 bytes"));
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
      (void)core::send_all(fd, error_json(fmt::format("'{}' is not ready=BOOL or healthy=BOOL", word)));
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
  (void)core::send_all(fd, state_json(service_));
}

}  // namespace devops::serve
