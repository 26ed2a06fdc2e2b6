#pragma once

// One gRPC health Check (grpc.health.v1.Health/Check) over HTTP/2, in clear
// text or over TLS, for `devops-info health --url grpc[s]://HOST:PORT/SERVICE`,
// bounded in time and size whatever the server does.

#include <chrono>
#include <string>

#include "core/probe_url.hpp"
#include "serve/client/client_socket.hpp"
#include "serve/net/net_error.hpp"

namespace devops::serve {

struct GrpcProbeResult {
  NetError error{NetError::None};  // None: the call ended, with a status or without
  std::string problem;             // what broke when the server did not speak gRPC (error is Other)
  int grpc_status{-1};             // -1: the server gave none
  std::string grpc_message;        // percent-decoded
  int serving{-1};                 // HealthCheckResponse.status: 1 SERVING, 2 NOT_SERVING, ...; -1: no message
};

// Check of target.grpc_service() at target.host:target.port. `timeout` bounds
// the whole call (it is also sent as grpc-timeout). `tls`: for grpcs://.
GrpcProbeResult grpc_health_check(const core::HttpTarget& target, std::chrono::milliseconds timeout,
                                  const TlsClientOptions& tls = {});

// "SERVING", "NOT_SERVING", ... for a HealthCheckResponse status.
std::string_view serving_status_name(int status);

}  // namespace devops::serve
