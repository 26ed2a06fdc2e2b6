#pragma once

// grpc.health.v1's two messages (grpc-proto's health.proto), encoded by
// hand: HealthCheckRequest is one string (field 1), HealthCheckResponse one
// enum (field 1). A protobuf library and generated code would cost more
// than the two messages they would read and write; what protobuf's wire
// format asks of a reader (unknown fields skipped, the last value of a
// field wins, malformed input refused) is kept here and tested. The server
// (serve's gRPC health) and the client (health --url grpc://) share it.

#include <optional>
#include <string>
#include <string_view>

namespace devops::core {

enum class ServingStatus { Unknown = 0, Serving = 1, NotServing = 2, ServiceUnknown = 3 };

// A HealthCheckRequest for `service` ("" is the empty message).
std::string encode_health_request(std::string_view service);
// The `service` of a HealthCheckRequest; nullopt if the bytes are not one.
std::optional<std::string> parse_health_request(std::string_view message);
// A HealthCheckResponse with `status` (UNKNOWN, the default, is empty).
std::string encode_health_response(ServingStatus status);
// The `status` of a HealthCheckResponse (0, UNKNOWN, when absent); nullopt
// if the bytes are not one.
std::optional<int> decode_health_response(std::string_view message);

}  // namespace devops::core
