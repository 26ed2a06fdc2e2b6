// The log writer: whole lines, never blocking the caller, drops counted.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "catch.hpp"
#include "serve/log/log_writer.hpp"

using namespace devops::serve;
using namespace std::chrono_literals;

TEST_CASE("queued lines are written whole and in order") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::atomic<std::uint64_t> dropped{0};
  {
    LogWriter w(fds[1], 1 << 20, dropped);
    for (int i = 0; i < 1000; ++i) w.push("line " + std::to_string(i) + "\n");
    CHECK(w.close(5s));
  }
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  std::string want;
  for (int i = 0; i < 1000; ++i) want += "line " + std::to_string(i) + "\n";
  CHECK(got == want);
  CHECK(dropped == 0);
}

TEST_CASE("a pipe nobody reads never blocks push(); lines beyond the queue are dropped and counted") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::atomic<std::uint64_t> dropped{0};
  const std::string line(200, 'x');
  auto w = std::make_unique<LogWriter>(fds[1], 64 * 1024, dropped);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20000; ++i) w->push(line + "\n");  // 4 MB: far beyond the pipe and the queue
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  CHECK(dropped > 0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(w->close(200ms));  // the pipe stays full: close gives up
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  w.reset();
  ::close(fds[0]);
  ::close(fds[1]);
}
