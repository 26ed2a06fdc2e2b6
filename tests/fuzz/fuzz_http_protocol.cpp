// libFuzzer target: any bytes, cut into any pieces, through HttpProtocol.
// Checks what must hold whatever a client sends: no crash or sanitizer
// report, output that stays within its limit, nothing answered after the
// protocol decided to close, and every answer a complete HTTP/1.1 message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "serve/http1/http_protocol.hpp"

using namespace devops::serve;

namespace {

struct App final : HttpService {
  bool hold{false};
  int in_progress{0};
  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override {
    if (req.method.empty() || req.path.empty()) std::abort();  // a request always has both
    ex.begin(this, 0, SteadyClock::now());
    ++in_progress;
    // HEAD answers carry GET's length but no body: give them none, so that
    // check_answers can walk the stream by Content-Length.
    HttpResponse r{200, "application/json", req.method == "HEAD" ? std::string() : std::string(req.path), {}};
    if (hold) r.delay = std::chrono::milliseconds(5);
    return r;
  }
  HttpResponse refuse(int status, const HttpRequest& req, Exchange& ex) override {
    if (status < 400 || status > 505) std::abort();
    ex.begin(nullptr, 0, SteadyClock::now());
    return {status, "application/json", req.method == "HEAD" ? "" : "{}", {}};
  }
  void finish(Exchange& ex, const HttpRequest&, int) noexcept override {
    if (ex.end()) --in_progress;
  }
  bool draining() const override { return false; }
  // /echo keeps its body (up to 4 KiB) and every field, as the Service's does.
  RequestNeeds needs(std::string_view path) const noexcept override {
    if (path == "/echo") return {true, std::uint64_t{4096}};
    return {path == "/headers", std::nullopt};
  }

 private:
  void abandon(const Exchange&) noexcept override { --in_progress; }
};

void check_answers(std::string_view out) {
  while (!out.empty()) {
    if (!out.starts_with("HTTP/1.1 ")) std::abort();
    const auto end = out.find("\r\n\r\n");
    if (end == std::string_view::npos) std::abort();
    const auto head = out.substr(0, end);
    std::size_t length = 0;
    if (const auto at = head.find("\r\nContent-Length: "); at != std::string_view::npos) {
      length = std::strtoul(std::string(head.substr(at + 18, 12)).c_str(), nullptr, 10);
    }
    if (end + 4 + length > out.size()) std::abort();
    out.remove_prefix(end + 4 + length);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = data[0] % 64 + 1;  // how the bytes arrive
  App app;
  app.hold = (data[1] & 1) != 0;
  HttpLimits limits;
  limits.max_output = 4096;
  std::string all;
  {
    HttpProtocol p(limits, app, "127.0.0.1");
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
    const HttpNow now{SteadyClock::now(), "Sun, 29 Nov 2026 20:00:00 GMT"};
    for (std::size_t i = 0; i < input.size(); i += piece) {
      std::string out;
      const bool was_closing = p.closing();
      p.receive(input.substr(i, piece), out, now);
      for (int round = 0; round < 1000 && (p.holding() || !out.empty()); ++round) {
        if (was_closing && !out.empty()) std::abort();  // nothing after the close
        if (out.size() > limits.max_output + 70 * 1024) std::abort();
        all += out;
        out.clear();
        if (p.holding()) {
          p.release(out, {p.release_at(), now.date});
        } else {
          p.resume(out, now);
        }
      }
    }
  }
  if (app.in_progress != 0) std::abort();  // every exchange ended, answered or dropped with the protocol
  check_answers(all);
  return 0;
}
