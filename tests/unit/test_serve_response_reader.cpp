#include <string>
#include <string_view>

#include "catch.hpp"
#include "serve/http1/response_reader.hpp"

using devops::serve::ResponseReader;
using Progress = ResponseReader::Progress;

namespace {

// Feeds `answer` in pieces of `piece` bytes, then the end of the stream when `eof`.
Progress read(ResponseReader& r, std::string_view answer, std::size_t piece, bool eof = false) {
  auto p = Progress::More;
  for (std::size_t i = 0; i < answer.size() && p == Progress::More; i += piece) p = r.feed(answer.substr(i, piece));
  return eof && p == Progress::More ? r.finish() : p;
}

}  // namespace

TEST_CASE("an answer is read whole in any split: by length, chunked, or until the close") {
  const std::string by_length =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\n{\"sta\r\na;ext=1\r\ntus\":\"ok\"}\r\n0\r\nX-Trailer: t\r\n\r\n";
  const std::string until_close = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"ok\"}";
  for (const auto* answer : {&by_length, &chunked, &until_close}) {
    for (const std::size_t piece : {1UL, 2UL, 7UL, 1000UL}) {
      INFO(*answer << " in pieces of " << piece);
      ResponseReader r(1000);
      CHECK(read(r, *answer, piece, answer == &until_close) == Progress::Done);
      CHECK(r.status() == 200);
      CHECK(r.content_type() == "application/json");
      CHECK(r.body() == R"({"status":"ok"})");
    }
  }
}

TEST_CASE("interim answers are skipped; a redirect's Location is kept") {
  ResponseReader r(1000);
  CHECK(read(r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", 3) ==
        Progress::Done);
  CHECK(r.status() == 301);
  CHECK(r.location() == "/x");
}

TEST_CASE("whatever the server sends, the reader holds little: a bounded head, fields and body") {
  ResponseReader big(10);
  CHECK(read(big, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", 100) == Progress::TooLarge);
  CHECK(big.status() == 200);
  ResponseReader big_chunks(10);
  CHECK(read(big_chunks, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n", 5) ==
        Progress::TooLarge);
  ResponseReader long_head(10);
  std::string head = "HTTP/1.1 200 OK\r\n";
  while (head.size() < 20'000) head += "X-A: " + std::string(100, 'y') + "\r\n";
  CHECK(read(long_head, head, 512) == Progress::Bad);
  CHECK(long_head.why() == "a head over 16 KiB");
  ResponseReader many(10);
  std::string fields = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 101; ++i) fields += "X: y\r\n";
  CHECK(read(many, fields + "\r\n", 64) == Progress::Bad);
  CHECK(many.why() == "more than 100 header fields");
  ResponseReader garbage(10);
  CHECK(read(garbage, "SSH-2.0-OpenSSH_9.2\r\n\r\n", 4) == Progress::Bad);
  ResponseReader nothing(10);
  CHECK(nothing.finish() == Progress::Bad);
  CHECK(nothing.why() == "the connection closed without an answer");
  ResponseReader cut(10);
  CHECK(read(cut, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 100, true) == Progress::Bad);
  CHECK(cut.why() == "the answer ended early");
  ResponseReader head_only(10, true);  // the answer to a HEAD: no body whatever it says
  CHECK(read(head_only, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 100) == Progress::Done);
}
