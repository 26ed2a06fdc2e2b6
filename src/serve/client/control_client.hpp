#pragma once

// The client side of serve's control channel (`health --set`), and the
// channel's address, which the server side (serve/control.hpp) shares. The
// protocol: one line in, one line of JSON out; see serve/control.hpp.

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace devops::serve {

// The longest command line either side accepts.
inline constexpr std::size_t kControlMaxLine = 512;

// "devops-info/5000": the socket's name without the leading NUL byte.
std::string control_socket_name(int port);

// The abstract address of `name` in `addr`; returns its length.
socklen_t control_address(const std::string& name, sockaddr_un& addr);

// What the server answered (a line of JSON), or why there is no answer.
struct ControlReply {
  bool ok{false};
  std::string text;  // the JSON line when ok, else the error
};

// Sends one command line to the server listening on `port` (TCP) here.
ControlReply control_request(int port, std::string_view command, std::chrono::milliseconds timeout);

}  // namespace devops::serve
