#pragma once

// gRPC's framing over HTTP/2 (doc/PROTOCOL-HTTP2.md in grpc/grpc), without
// protobuf: a message is a compressed-flag byte, a 4-byte big-endian length
// and the message's bytes; a call ends with grpc-status and grpc-message.

#include <cstdint>
#include <string>
#include <string_view>

namespace devops::serve::grpc {

inline constexpr int kOk = 0;
inline constexpr int kNotFound = 5;
inline constexpr int kResourceExhausted = 8;
inline constexpr int kUnimplemented = 12;
inline constexpr int kInternal = 13;
inline constexpr int kUnavailable = 14;

// One request message; anything else is an error for the call.
enum class Unframe { Ok, Empty, Compressed, Truncated, Trailing };
// The single message framed in `body`: `message` views into it.
Unframe unframe(std::string_view body, std::string_view& message);

// Appends `message` framed (uncompressed).
void append_framed(std::string& out, std::string_view message);

// grpc-message's value: percent-encoded outside printable ASCII and '%'.
std::string percent_encode(std::string_view text);

// Content-Type application/grpc, or application/grpc+proto, ...;charset.
bool is_grpc_content_type(std::string_view content_type);

}  // namespace devops::serve::grpc
