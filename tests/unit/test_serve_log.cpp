#include <nlohmann/json.hpp>

#include <array>

#include "catch.hpp"
#include "fixture.hpp"
#include "serve/log/json_text.hpp"
#include "serve/log/log.hpp"

using namespace devops;
using serve::LogField;

namespace {

std::string json_string(std::string_view s) {
  std::string out;
  serve::append_json_string(out, s);
  return out;
}

}  // namespace

TEST_CASE("append_json_string escapes what JSON needs and keeps valid UTF-8") {
  CHECK(json_string("plain") == R"("plain")");
  CHECK(json_string("a\"b\\c") == R"("a\"b\\c")");
  CHECK(json_string("tab\tnl\ncr\r") == R"("tab\tnl\ncr\r")");
  CHECK(json_string(std::string_view("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
  CHECK(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

TEST_CASE("append_json_string replaces invalid UTF-8 with U+FFFD") {
  CHECK(json_string("caf\xe9") == R"("caf\ufffd")");                          // Latin-1
  CHECK(json_string("\xc0\xaf") == R"("\ufffd\ufffd")");                      // overlong
  CHECK(json_string("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");            // surrogate
  CHECK(json_string("\xf4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")");  // above U+10FFFF
  CHECK(json_string("\xe2\x82") == R"("\ufffd\ufffd")");                      // cut short
  // Whatever the bytes, the result parses.
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  CHECK(nlohmann::json::parse(json_string(all)).get<std::string>().size() > 200);
}

TEST_CASE("a JSON log line has timestamp, level, msg, then the fields") {
  const std::array fields{LogField{"method", "GET"}, LogField{"status", 200}, LogField{"duration_ms", 1.23456},
                          LogField{"ok", true}, LogField{"path", "/a\"b"}};
  const auto line =
      serve::format_log_line(core::LogFormat::JsonLines, test::fixed_now(), core::LogLevel::Info, "request", fields);
  CHECK(line == R"({"timestamp":"2026-11-28T14:34:56.789012+00:00","level":"INFO","msg":"request","method":"GET",)"
                R"("status":200,"duration_ms":1.235,"ok":true,"path":"/a\"b"})"
                "\n");
  CHECK(nlohmann::json::parse(line)["level"] == "INFO");
}

TEST_CASE("levels are upper case") {
  CHECK(std::string(core::to_string(core::LogLevel::Debug)) == "DEBUG");
  CHECK(std::string(core::to_string(core::LogLevel::Warning)) == "WARNING");
  CHECK(std::string(core::to_string(core::LogLevel::Error)) == "ERROR");
}

TEST_CASE("a text log line is key=value, quoted when needed") {
  const std::array fields{LogField{"method", "GET"}, LogField{"user_agent", "two words"}, LogField{"empty", ""},
                          LogField{"status", 404}};
  const auto line =
      serve::format_log_line(core::LogFormat::Text, test::fixed_now(), core::LogLevel::Warning, "request", fields);
  CHECK(line ==
        "2026-11-28T14:34:56.789012+00:00 WARNING request method=GET user_agent=\"two words\" empty=\"\" status=404\n");
}

TEST_CASE("long values are cut so that a line stays short") {
  const std::string huge(100'000, 'x');
  const std::array fields{LogField{"user_agent", huge}};
  const auto line =
      serve::format_log_line(core::LogFormat::JsonLines, test::fixed_now(), core::LogLevel::Info, "m", fields);
  CHECK(line.size() < 4096);  // below PIPE_BUF: written atomically
  CHECK(line.back() == '\n');
  CHECK(nlohmann::json::parse(line)["user_agent"].get<std::string>().size() == 2048);
}
