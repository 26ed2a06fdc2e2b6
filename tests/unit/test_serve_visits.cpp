#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "fixture.hpp"
#include "serve/app/visits.hpp"

using namespace devops;
using namespace std::chrono_literals;

namespace {

serve::Logger quiet_logger() {
  return {core::LogFormat::JsonLines, core::LogLevel::Error, -1};
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// The message of what `f` throws ("" when it does not); Catch2 2 and 3 name their matchers differently.
template <class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("parse_visit_count takes digits and one final newline only") {
  CHECK(serve::parse_visit_count("0") == 0u);
  CHECK(serve::parse_visit_count("42\n") == 42u);
  CHECK(serve::parse_visit_count("18446744073709551615") == 18446744073709551615u);
  for (const char* bad : {"", "\n", "-1", "1.5", " 1", "1 ", "1\n\n", "abc", "18446744073709551616", "0x10", "+3"}) {
    CAPTURE(bad);
    CHECK_FALSE(serve::parse_visit_count(bad));
  }
}

TEST_CASE("a missing file is 0 and is created at start; the count goes on from the file") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  {
    serve::VisitCounter c(dir.path.string(), logger, 10s);
    CHECK(c.count() == 0);
    CHECK(test::read_text(dir.path / "visits") == "0\n");
    for (int i = 0; i < 5; ++i) c.add();
    CHECK(c.flush());
    CHECK(test::read_text(dir.path / "visits") == "5\n");
    c.add();
  }  // the destructor writes the last count
  CHECK(test::read_text(dir.path / "visits") == "6\n");
  serve::VisitCounter again(dir.path.string(), logger, 10s);
  CHECK(again.count() == 6);
  CHECK_FALSE(std::filesystem::exists(dir.path / ".visits.tmp"));
}

TEST_CASE("the flusher thread writes every interval without being asked") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  serve::VisitCounter c(dir.path.string(), logger, 20ms);
  c.add();
  c.add();
  for (int i = 0; i < 250 && test::read_text(dir.path / "visits") != "2\n"; ++i) std::this_thread::sleep_for(10ms);
  CHECK(test::read_text(dir.path / "visits") == "2\n");
}

TEST_CASE("a file that is not a number refuses to start, names the file and is left as it is") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  for (const char* bad : {"", "twelve\n", "12abc", "-4\n"}) {
    CAPTURE(bad);
    write_file(dir.path / "visits", bad);
    try {
      serve::VisitCounter c(dir.path.string(), logger);
      FAIL("accepted a file that is not a number");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find((dir.path / "visits").string()) != std::string::npos);
      CHECK(std::string(e.what()).find("not a number") != std::string::npos);
    }
    CHECK(test::read_text(dir.path / "visits") == bad);
  }
}

TEST_CASE("a second counter on the same directory is refused while the first holds it") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  auto first = std::make_unique<serve::VisitCounter>(dir.path.string(), logger);
  CHECK(thrown([&] { serve::VisitCounter c(dir.path.string(), logger); }).find("another process uses it") !=
        std::string::npos);
  first.reset();
  CHECK(thrown([&] { serve::VisitCounter c(dir.path.string(), logger); }).empty());
}

TEST_CASE("a directory that is missing or a file is refused") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  CHECK(thrown([&] { serve::VisitCounter c((dir.path / "nope").string(), logger); }).find("nope") != std::string::npos);
  write_file(dir.path / "f", "");
  CHECK(thrown([&] { serve::VisitCounter c((dir.path / "f").string(), logger); }).find("not a directory") !=
        std::string::npos);
}

TEST_CASE("writes that fail: starts, counts in memory, says why, never touches the file, recovers") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  write_file(dir.path / "visits", "7\n");
  // A directory where the temporary file goes makes every write fail, for root too.
  std::filesystem::create_directory(dir.path / ".visits.tmp");
  {
    serve::VisitCounter c(dir.path.string(), logger, 10s);
    CHECK(c.count() == 7);
    CHECK_FALSE(c.writable());
    CHECK(c.last_error().find(".visits.tmp") != std::string::npos);
    c.add();
    CHECK_FALSE(c.flush());
    CHECK(test::read_text(dir.path / "visits") == "7\n");
    std::filesystem::remove(dir.path / ".visits.tmp");
    CHECK(c.flush());
    CHECK(c.writable());
    CHECK(c.last_error().empty());
    CHECK(test::read_text(dir.path / "visits") == "8\n");
  }
}

TEST_CASE("many threads counting at once lose nothing") {
  const test::TempDir dir;
  const auto logger = quiet_logger();
  {
    serve::VisitCounter c(dir.path.string(), logger, 5ms);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 10000; ++i) c.add();
      });
    }
    for (auto& t : threads) t.join();
    CHECK(c.count() == 80000);
  }
  CHECK(test::read_text(dir.path / "visits") == "80000\n");
}
