#include "core/grpc_health.hpp"

#include <cstdint>

namespace devops::core {

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

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7fU) | 0x80U));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Walks the fields of a message: on_field(number, wire type, varint value,
// length-delimited bytes) for each; false at the first malformed byte or
// when on_field refuses a field.
template <typename OnField>
bool for_each_field(std::string_view in, OnField&& on_field) {
  while (!in.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(in, key) || key >> 3 == 0) return false;
    const auto wire = key & 7U;
    std::uint64_t v = 0;
    std::string_view bytes;
    switch (wire) {
      case 0:  // varint
        if (!read_varint(in, v)) return false;
        break;
      case 1:  // 64-bit
        if (in.size() < 8) return false;
        in.remove_prefix(8);
        break;
      case 2:  // length-delimited
        if (!read_varint(in, v) || v > in.size()) return false;
        bytes = in.substr(0, v);
        in.remove_prefix(v);
        break;
      case 5:  // 32-bit
        if (in.size() < 4) return false;
        in.remove_prefix(4);
        break;
      default: return false;  // groups (3, 4) are not in proto3
    }
    if (!on_field(key >> 3, wire, v, bytes)) return false;
  }
  return true;
}

}  // namespace

std::string encode_health_request(std::string_view service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back('\x0a');
  append_varint(out, service.size());
  out.append(service);
  return out;
}

std::optional<std::string> parse_health_request(std::string_view in) {
  std::string service;
  const bool ok = for_each_field(in, [&](std::uint64_t field, std::uint64_t wire, std::uint64_t, std::string_view b) {
    if (field != 1) return true;  // unknown: skipped
    if (wire != 2) return false;  // field 1 is a string
    service.assign(b);            // the last one wins
    return true;
  });
  if (!ok) return std::nullopt;
  return service;
}

std::string encode_health_response(ServingStatus status) {
  if (status == ServingStatus::Unknown) return {};
  return {'\x08', static_cast<char>(status)};
}

std::optional<int> decode_health_response(std::string_view in) {
  int status = 0;  // proto3: an absent enum is its zero, UNKNOWN
  const bool ok = for_each_field(in, [&](std::uint64_t field, std::uint64_t wire, std::uint64_t v, std::string_view) {
    if (field != 1) return true;
    if (wire != 0) return false;  // field 1 is an enum
    status = static_cast<int>(v & 0xffffU);
    return true;
  });
  if (!ok) return std::nullopt;
  return status;
}

}  // namespace devops::core
