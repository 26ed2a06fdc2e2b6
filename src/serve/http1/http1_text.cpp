// HTTP/1.1's own text: an answer's bytes, and HTTP2-Settings' base64url.
#include <charconv>

#include "serve/http1/http_protocol.hpp"

namespace devops::serve {

namespace {

void append_number(std::string& out, std::uint64_t n) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

bool decode_base64url(std::string_view in, std::string& out) {
  out.clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);  // padding is not sent, but tolerated
  if (in.size() % 4 == 1) return false;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    const int v = base64url_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xffU));
    }
  }
  return true;
}

void append_response(std::string& out, const HttpResponse& resp, std::string_view date, ConnectionHeader connection,
                     AnswerBody body) {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::uint64_t>(resp.status));
  out.push_back(' ');
  out.append(reason_phrase(resp.status));
  // 204 and 304 have no content, so neither a type nor a length (RFC 9110 8.6, 15.3.5).
  const bool content = resp.status != 204 && resp.status != 304;
  if (content && !resp.content_type.empty()) {
    out.append("\r\nContent-Type: ");
    out.append(resp.content_type);
  }
  if (content) {
    out.append("\r\nContent-Length: ");
    append_number(out, resp.body.size());
  }
  out.append("\r\nDate: ");
  out.append(date);
  out.append("\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n");
  out.append(resp.headers);
  if (!resp.allow.empty()) {
    out.append("Allow: ");
    out.append(resp.allow);
    out.append("\r\n");
  }
  if (connection == ConnectionHeader::Close) {
    out.append("Connection: close\r\n");
  } else if (connection == ConnectionHeader::KeepAlive) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  if (body == AnswerBody::Send) out.append(resp.body);
}

}  // namespace devops::serve
