#pragma once

// A file descriptor that closes itself: the one place the project closes
// descriptors. Move-only; -1 is "none".

#include <string_view>

namespace devops::core {

class Fd {
 public:
  Fd() noexcept = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  // Gives the descriptor up without closing it.
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the descriptor held, if any, and holds `fd` instead.
  void reset(int fd = -1) noexcept;

 private:
  int fd_{-1};
};

// Write all of `data`, resuming after a signal or a short write; false on an
// error, a timeout or a reader that is gone. For descriptors that block (or
// have a send timeout). write_all is for files and pipes, send_all for
// sockets (a peer that has hung up is an error, not a SIGPIPE).
bool write_all(int fd, std::string_view data);
bool send_all(int fd, std::string_view data);

// Adds one to an eventfd, to wake the thread that polls it.
void notify(int eventfd) noexcept;

}  // namespace devops::core
