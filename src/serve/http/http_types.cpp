#include "serve/http/http_types.hpp"

namespace devops::serve {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const auto y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool decode_target_path(std::string_view target, std::string& path) {
  path.clear();
  if (target == "*") {    // OPTIONS * (asterisk-form)
    path.push_back('*');  // (not `path = "*"`: GCC 12 warns -Wrestrict wrongly at -O3)
    return true;
  }
  if (!target.starts_with('/')) {  // absolute-form: http://host/path
    const auto scheme = target.find("://");
    if (scheme == std::string_view::npos) return false;
    const auto name = target.substr(0, scheme);
    if (!iequals(name, "http") && !iequals(name, "https")) return false;
    const auto slash = target.find_first_of("/?", scheme + 3);
    target = slash == std::string_view::npos || target[slash] == '?' ? std::string_view("/") : target.substr(slash);
  }
  target = target.substr(0, target.find('?'));
  path.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      path.push_back(target[i]);
      continue;
    }
    if (i + 2 >= target.size()) return false;
    const int hi = hex_value(target[i + 1]);
    const int lo = hex_value(target[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    path.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 418: return "I'm a teapot";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 502: return "Bad Gateway";
    case 504: return "Gateway Timeout";
    case 508: return "Loop Detected";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default:
      return status >= 500   ? "Server Error"
             : status >= 400 ? "Client Error"
             : status >= 300 ? "Redirection"
             : status >= 200 ? "Success"
                             : "Unknown";
  }
}

}  // namespace devops::serve
