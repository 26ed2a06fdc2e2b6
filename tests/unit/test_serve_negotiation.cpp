#include "catch.hpp"
#include "serve/app/negotiation.hpp"

using devops::serve::accept_weight;
using devops::serve::choose_info_format;
using devops::serve::InfoFormat;

TEST_CASE("GET / answers the page only to a client that prefers HTML to JSON") {
  constexpr auto kChrome =
      "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"
      "application/signed-exchange;v=b3;q=0.7";
  constexpr auto kFirefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
  SECTION("browsers") {
    CHECK(choose_info_format("", kChrome) == InfoFormat::Html);
    CHECK(choose_info_format("", kFirefox) == InfoFormat::Html);
    CHECK(choose_info_format("", "text/*") == InfoFormat::Html);
  }
  SECTION("everything else keeps the JSON") {
    for (const char* accept : {"", "*/*", "application/json", "application/json, text/html;q=0.9",
                               "text/html;q=0.5, application/json", "text/html, application/json", "text/html;q=0, */*",
                               "TEXT/HTML;q=0.3, */*;q=0.3", "text/plain", "image/png"}) {
      CAPTURE(accept);
      CHECK(choose_info_format("", accept) == InfoFormat::Json);
    }
  }
  SECTION("?format= wins, in any case, with other parameters around it") {
    CHECK(choose_info_format("format=html", "*/*") == InfoFormat::Html);
    CHECK(choose_info_format("x=1&format=JSON&y", kChrome) == InfoFormat::Json);
    CHECK(choose_info_format("format=json&format=html", "") == InfoFormat::Html);
    CHECK_FALSE(choose_info_format("format=yaml", kChrome));
    CHECK_FALSE(choose_info_format("format=", ""));
    CHECK(choose_info_format("formats=html", "") == InfoFormat::Json);
  }
}

TEST_CASE("Accept weights: the most specific range counts") {
  CHECK(accept_weight("", "text/html") == 1);
  CHECK(accept_weight("*/*;q=0.1, text/*;q=0.5, text/html;q=0.9", "text/html") == Approx(0.9));
  CHECK(accept_weight("text/html;q=0.2, */*", "text/html") == Approx(0.2));
  CHECK(accept_weight("text/*;q=0.4, */*", "text/html") == Approx(0.4));
  CHECK(accept_weight("application/json", "text/html") == 0);
  CHECK(accept_weight("text/html;level=1;q=0.7", "text/html") == Approx(0.7));
  CHECK(accept_weight("text/html;q=2", "text/html") == 0);  // not a weight: not acceptable
  CHECK(accept_weight("text/html;q=abc", "text/html") == 0);
  CHECK(accept_weight(" , ,;,text/html ; q=0.5", "text/html") == Approx(0.5));
  CHECK(accept_weight(std::string(10000, ','), "text/html") == 0);
}
