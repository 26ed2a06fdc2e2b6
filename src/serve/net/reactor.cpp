#include "serve/net/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace devops::serve {

Reactor::Reactor() {
  // A throw below closes what was opened: the members are descriptors.
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep_.valid()) throw std::system_error(errno, std::system_category(), "epoll_create1");
  wake_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_.valid()) throw std::system_error(errno, std::system_category(), "eventfd");
  if (!add(wake_.get(), EPOLLIN, &wake_tag_)) throw std::system_error(errno, std::system_category(), "epoll_ctl");
}

bool Reactor::add(int fd, std::uint32_t events, void* tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = tag;
  return ::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool Reactor::modify(int fd, std::uint32_t events, void* tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = tag;
  return ::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

bool Reactor::remove(int fd) {
  return ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr) == 0;
}

void Reactor::drain_wake() const noexcept {
  std::uint64_t v = 0;
  (void)!::read(wake_.get(), &v, sizeof v);
}

}  // namespace devops::serve
