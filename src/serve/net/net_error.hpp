#pragma once

// The network failures this program tells apart, whatever library saw them.

#include <sys/socket.h>

#include <chrono>
#include <string>

namespace devops::serve {

enum class NetError {
  None,
  AddressInUse,        // bind: another socket has the port
  AccessDenied,        // bind: a privileged port, or a policy
  AddressUnavailable,  // bind: no interface has that address
  Refused,             // connect: nothing listens there
  TimedOut,            // connect or read: no answer in time
  Unreachable,         // connect: no route to the host
  Connection,          // connect: failed otherwise
  Resolve,             // connect: the name has no address
  Read,                // the answer could not be read
  Write,               // the request could not be sent
  Tls,                 // the TLS handshake failed (an unknown CA, a wrong name, no TLS at all)
  Other,
};

// "address already in use", "connection refused", ...
const char* describe(NetError e);

// The NetError for an errno value from bind(2) or connect(2).
NetError from_errno(int err);

// The socket address of a numeric IPv4 or IPv6 host; false for anything else.
bool make_address(const std::string& host, int port, sockaddr_storage& ss, socklen_t& len);

// Why connecting to `host:port` fails (refused, unreachable, timed out),
// asked of the kernel with a socket of our own (libraries often say only that
// it failed); NetError::Connection when `host` is not a numeric address.
NetError diagnose_connect(const std::string& host, int port, std::chrono::milliseconds timeout);

}  // namespace devops::serve
