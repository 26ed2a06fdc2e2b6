#include "catch.hpp"
#include "core/timefmt.hpp"
#include "fixture.hpp"

#include <fmt/format.h>

#include <ctime>
#include <random>
#include <string>
#include <vector>

using namespace devops::core;

TEST_CASE("iso8601_utc matches Python's isoformat for UTC") {
  CHECK(iso8601_utc(devops::test::fixed_now()) == "2026-11-28T14:34:56.789012+00:00");
  CHECK(iso8601_utc(devops::test::fixed_now(), Precision::Seconds) == "2026-11-28T14:34:56+00:00");
  CHECK(iso8601_utc(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00.000000+00:00");
}

namespace {

// The plain way, by gmtime_r and a format string, as the reference.
std::string reference_iso8601(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const std::time_t tt = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, duration_cast<microseconds>(t - secs).count());
}

}  // namespace

TEST_CASE("append_iso8601_utc agrees with gmtime_r over three centuries, leap days and second edges") {
  using namespace std::chrono;
  std::mt19937_64 rng(20261202);
  // 1970 to 2255 at random instants (system_clock counts nanoseconds in 64
  // bits: it ends in 2262), and the edges that break a hand-made calendar.
  std::uniform_int_distribution<std::int64_t> micros(0, std::int64_t{9'000'000'000} * 1'000'000);
  std::vector<system_clock::time_point> ts;
  for (int i = 0; i < 20000; ++i) ts.emplace_back(microseconds(micros(rng)));
  for (const std::int64_t s : {951'782'400LL, 951'868'799LL, 4'107'542'400LL, 1'709'164'800LL, 7'258'118'399LL}) {
    ts.emplace_back(seconds(s));                          // 2000-02-29, 2000-02-29T23:59:59, 2100-03-01,
    ts.emplace_back(seconds(s) + microseconds(999'999));  // 2024-02-29, 2199-12-31T23:59:59
  }
  ts.emplace_back(microseconds(-1));  // before the epoch: 1969-12-31T23:59:59.999999
  for (const auto t : ts) {
    std::string out = "x";
    append_iso8601_utc(out, t);
    REQUIRE(out == "x" + reference_iso8601(t));
    REQUIRE(iso8601_utc(t, Precision::Seconds) == reference_iso8601(t).substr(0, 19) + "+00:00");
  }
}

TEST_CASE("humanize_uptime writes the Flask service's format: hours only, always plural") {
  CHECK(humanize_uptime(0) == "0 hours, 0 minutes");
  CHECK(humanize_uptime(59) == "0 hours, 0 minutes");
  CHECK(humanize_uptime(60) == "0 hours, 1 minutes");
  CHECK(humanize_uptime(3600 + 60) == "1 hours, 1 minutes");
  CHECK(humanize_uptime(2 * 3600 + 60) == "2 hours, 1 minutes");
  CHECK(humanize_uptime(2 * 3600 + 2 * 60 + 59) == "2 hours, 2 minutes");
  CHECK(humanize_uptime(86400) == "24 hours, 0 minutes");
  CHECK(humanize_uptime(50 * 3600 + 3 * 60) == "50 hours, 3 minutes");
  CHECK(humanize_uptime(3 * 86400 + 3600 + 5 * 60) == "73 hours, 5 minutes");
  CHECK(humanize_uptime(-5) == "0 hours, 0 minutes");
}

TEST_CASE("human_bytes uses binary units") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(1024) == "1.0 KiB");
  CHECK(human_bytes(64ULL << 20) == "64.0 MiB");
  CHECK(human_bytes(3ULL << 29) == "1.5 GiB");
}
