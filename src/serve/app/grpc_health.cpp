#include "serve/app/grpc_health.hpp"

#include <cstdint>

namespace devops::serve {

namespace {

bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= std::uint64_t{b & 0x7fU} << shift;
    if ((b & 0x80U) == 0) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> parse_health_request(std::string_view in) {
  std::string service;
  while (!in.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(in, key) || key >> 3 == 0) return std::nullopt;
    const auto wire = key & 7U;
    std::uint64_t v = 0;
    switch (wire) {
      case 0:  // varint
        if (!read_varint(in, v)) return std::nullopt;
        break;
      case 1:  // 64-bit
        if (in.size() < 8) return std::nullopt;
        in.remove_prefix(8);
        break;
      case 2:  // length-delimited
        if (!read_varint(in, v) || v > in.size()) return std::nullopt;
        if (key >> 3 == 1) service.assign(in.substr(0, v));  // the last one wins
        in.remove_prefix(v);
        break;
      case 5:  // 32-bit
        if (in.size() < 4) return std::nullopt;
        in.remove_prefix(4);
        break;
      default: return std::nullopt;  // groups (3, 4) are not in proto3
    }
    if (key >> 3 == 1 && wire != 2) return std::nullopt;  // field 1 is a string
  }
  return service;
}

std::string encode_health_response(ServingStatus status) {
  if (status == ServingStatus::Unknown) return {};
  return {'\x08', static_cast<char>(status)};
}

}  // namespace devops::serve
