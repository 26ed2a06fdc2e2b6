#include "catch.hpp"
#include "core/timefmt.hpp"
#include "fixture.hpp"

using namespace devops::core;

TEST_CASE("iso8601_utc matches Python's isoformat for UTC") {
  CHECK(iso8601_utc(devops::test::fixed_now()) == "2026-11-28T14:34:56.789012+00:00");
  CHECK(iso8601_utc(devops::test::fixed_now(), Precision::Seconds) == "2026-11-28T14:34:56+00:00");
  CHECK(iso8601_utc(std::chrono::system_clock::time_point{}) == "1970-01-01T00:00:00.000000+00:00");
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
