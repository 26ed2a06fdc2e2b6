#pragma once

// A request as the Service sees it and the answer it gives, free of any HTTP
// library: the transport fills the one and writes the other.

#include <chrono>
#include <string>
#include <string_view>

namespace devops::serve {

struct HttpRequest {
  std::string_view method;
  std::string_view path;  // without the query
  std::string_view client_ip;
  std::string_view user_agent;
  std::string_view query{};   // after '?', as sent; empty when none
  std::string_view accept{};  // the Accept fields, joined; empty when absent
};

struct HttpResponse {
  int status{200};
  std::string_view content_type{"application/json"};
  std::string body;
  std::string_view allow;  // set on 405
  // Hold the answer this long before it is sent. The transport waits on a
  // timer, never by blocking a thread.
  std::chrono::milliseconds delay{0};
  std::string headers{};  // more header lines, each ending in CRLF (Vary, Content-Security-Policy)
};

// "OK", "Not Found", ...: the reason phrase of a status code.
std::string_view reason_phrase(int status);

}  // namespace devops::serve
