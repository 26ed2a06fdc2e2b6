#pragma once

// An HTTP/1.1 answer read from bytes, without sockets: the status, the
// fields a client needs and the body, each bounded (the head at 16 KiB and
// 100 fields, the body at the caller's limit), whatever the server sends.
// The health probe reads with it; so can any client of ours.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace devops::serve {

class ResponseReader {
 public:
  enum class Progress {
    More,      // the answer is not complete yet
    Done,      // complete: status(), body() and the fields are read
    TooLarge,  // the body passed max_body (status() and the fields are read)
    Bad,       // not HTTP/1.x, or a head over its bounds (why(): which)
  };
  static constexpr std::size_t kMaxHead = std::size_t{16} * 1024;
  static constexpr std::size_t kMaxFields = 100;

  // `head_request`: the answer to a HEAD, which has no body whatever it says.
  explicit ResponseReader(std::size_t max_body, bool head_request = false);
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Takes the next bytes of the answer.
  Progress feed(std::string_view data);
  // The connection ended: an answer read until the close is complete then.
  Progress finish();

  int status() const;
  const std::string& content_type() const;
  const std::string& location() const;
  const std::string& body() const;
  // Whether the server keeps the connection open after this answer.
  bool keep_alive() const;
  const std::string& why() const;

 private:
  struct Parser;
  Progress put(std::string_view data);
  std::unique_ptr<Parser> parser_;
  std::size_t max_body_;
  bool head_request_;
  std::string pending_;  // bytes fed but not yet taken by the parser
  Progress progress_{Progress::More};
};

}  // namespace devops::serve
