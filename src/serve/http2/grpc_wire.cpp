#include "serve/http2/grpc_wire.hpp"

namespace devops::serve::grpc {

Unframe unframe(std::string_view body, std::string_view& message) {
  message = {};
  if (body.empty()) return Unframe::Empty;
  if (body.size() < 5) return Unframe::Truncated;
  const auto flag = static_cast<unsigned char>(body[0]);
  std::uint64_t len = 0;
  for (int i = 1; i < 5; ++i) len = (len << 8) | static_cast<unsigned char>(body[static_cast<std::size_t>(i)]);
  if (body.size() - 5 < len) return Unframe::Truncated;
  if (body.size() - 5 > len) return Unframe::Trailing;  // a second message: the calls served here are unary requests
  if (flag != 0) return Unframe::Compressed;
  message = body.substr(5);
  return Unframe::Ok;
}

void append_framed(std::string& out, std::string_view message) {
  const auto n = static_cast<std::uint32_t>(message.size());
  out.push_back('\0');
  out.push_back(static_cast<char>((n >> 24) & 0xffU));
  out.push_back(static_cast<char>((n >> 16) & 0xffU));
  out.push_back(static_cast<char>((n >> 8) & 0xffU));
  out.push_back(static_cast<char>(n & 0xffU));
  out.append(message);
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xfU]);
    }
  }
  return out;
}

bool is_grpc_content_type(std::string_view ct) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (ct.size() < kGrpc.size()) return false;
  for (std::size_t i = 0; i < kGrpc.size(); ++i) {
    const char c = ct[i] >= 'A' && ct[i] <= 'Z' ? static_cast<char>(ct[i] - 'A' + 'a') : ct[i];
    if (c != kGrpc[i]) return false;
  }
  return ct.size() == kGrpc.size() || ct[kGrpc.size()] == '+' || ct[kGrpc.size()] == ';';
}

}  // namespace devops::serve::grpc
