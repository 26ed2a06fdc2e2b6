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
};

struct HttpResponse {
  int status{200};
  std::string_view content_type{"application/json"};
  std::string body;
  std::string_view allow;  // set on 405
  // Hold the answer this long before it is sent. The transport waits on a
  // timer, never by blocking a thread.
  std::chrono::milliseconds delay{0};
};

// "OK", "Not Found", ...: the reason phrase of a status code.
std::string_view reason_phrase(int status);

}  // namespace devops::serve
