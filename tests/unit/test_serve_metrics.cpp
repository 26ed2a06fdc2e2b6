#include <memory>
#include <string>

#include "catch.hpp"
#include "serve/app/metrics.hpp"

using namespace devops;
using namespace std::chrono_literals;

TEST_CASE("method labels are bounded") {
  CHECK(serve::kMethodLabels[serve::method_index("GET")] == "GET");
  CHECK(serve::kMethodLabels[serve::method_index("OPTIONS")] == "OPTIONS");
  CHECK(serve::kMethodLabels[serve::method_index("BREW")] == "other");
  CHECK(serve::kMethodLabels[serve::method_index("get")] == "other");
  CHECK(serve::kMethodLabels[serve::method_index("")] == "other");
}

TEST_CASE("requests are counted by method, endpoint and status") {
  auto m = std::make_unique<serve::Metrics>();
  const auto get = serve::method_index("GET");
  for (int i = 0; i < 3; ++i) m->observe(get, 1, 200, 2ms);
  m->observe(get, 4, 404, 1ms);
  m->observe(serve::method_index("POST"), 1, 405, 1ms);
  CHECK(m->requests(get, 1, 200) == 3);
  CHECK(m->requests(get, 4, 404) == 1);
  CHECK(m->requests(get, 1, 404) == 0);
  m->observe(get, 99, 200, 1ms);  // out of range: ignored, not a crash
  m->observe(get, 0, 42, 1ms);    // odd status: counted as 599
  CHECK(m->requests(get, 0, 599) == 1);
}

TEST_CASE("the exposition has HELP and TYPE, cumulative buckets and only non-zero series") {
  auto m = std::make_unique<serve::Metrics>();
  const auto get = serve::method_index("GET");
  m->observe(get, 0, 200, 3ms);   // <= 0.005
  m->observe(get, 0, 200, 30ms);  // <= 0.05
  m->observe(get, 0, 200, 20s);   // +Inf
  m->started();
  const std::array<std::string_view, 2> labels{"/", "unknown"};
  std::string out;
  m->render(out, labels);
  CHECK(out.find("# HELP http_requests_total ") != std::string::npos);
  CHECK(out.find("# TYPE http_requests_total counter\n") != std::string::npos);
  CHECK(out.find("http_requests_total{method=\"GET\",endpoint=\"/\",status=\"200\"} 3\n") != std::string::npos);
  CHECK(out.find("endpoint=\"unknown\"") == std::string::npos);
  CHECK(out.find("# TYPE http_request_duration_seconds histogram\n") != std::string::npos);
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/\",le=\"0.005\"} 1\n") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/\",le=\"0.025\"} 1\n") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/\",le=\"0.05\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/\",le=\"10.0\"} 2\n") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/\",le=\"+Inf\"} 3\n") !=
        std::string::npos);
  CHECK(out.find("http_request_duration_seconds_count{method=\"GET\",endpoint=\"/\"} 3\n") != std::string::npos);
  CHECK(out.find("http_request_duration_seconds_sum{method=\"GET\",endpoint=\"/\"} 20.033\n") != std::string::npos);
  CHECK(out.find("http_requests_in_progress 1\n") != std::string::npos);
  m->finished();
  CHECK(m->in_progress() == 0);
}

TEST_CASE("process and build metrics") {
  serve::ProcessStats p;
  p.cpu_seconds = 1.25;
  p.resident_bytes = 3 << 20;
  p.start_time_seconds = 1795876496.5;
  std::string out;
  serve::render_process(out, p);
  CHECK(out.find("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.25\n") != std::string::npos);
  CHECK(out.find("process_resident_memory_bytes 3145728.0\n") != std::string::npos);
  CHECK(out.find("process_start_time_seconds 1795876496.5\n") != std::string::npos);
  CHECK(out.find("process_open_fds") == std::string::npos);  // unknown: left out

  const auto real = serve::read_process_stats(std::chrono::system_clock::now());
  CHECK(real.resident_bytes.value_or(0) > 0);
  CHECK(real.open_fds.value_or(0) >= 3);

  out.clear();
  serve::render_build_info(out, {"1.2.3", "abc\"def", "GCC 12", "Release", "C++20"});
  CHECK(out.find("devops_info_build_info{version=\"1.2.3\",commit=\"abc\\\"def\",compiler=\"GCC 12\","
                 "build_type=\"Release\",cpp_standard=\"C++20\"} 1\n") != std::string::npos);
  CHECK(serve::escape_label("a\\b\nc") == "a\\\\b\\nc");
}
