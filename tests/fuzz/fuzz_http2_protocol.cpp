// libFuzzer target: any bytes, cut into any pieces, through the protocol of
// a clear-text connection (HTTP/1.1, or HTTP/2 by its preface or an Upgrade;
// the first byte says whether the preface goes first). Checks what must hold
// whatever a client sends: no crash or sanitizer report, output that stays
// within its limit, held answers, Watches, notifies and the drain that
// never leave an exchange in progress.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "serve/http2/cleartext_protocol.hpp"

using namespace devops::serve;

namespace {

struct App final : HttpService {
  bool hold{false};
  int in_progress{0};
  std::uint64_t changed{0};
  bool drain{false};
  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override {
    if (req.method.empty() || req.path.empty()) std::abort();  // a request always has both
    ex.begin(this, 0, SteadyClock::now());
    ++in_progress;
    HttpResponse r{200, "application/json", std::string(req.path), {}};
    if (req.grpc) {
      r.body = std::string(req.body.substr(0, 16));
      r.open_stream = req.path.ends_with("/Watch");
    }
    if (hold) r.delay = std::chrono::milliseconds(5);
    return r;
  }
  HttpResponse follow(const HttpRequest&) noexcept override {
    HttpResponse r;
    r.body = std::to_string(changed);
    r.open_stream = !drain;
    return r;
  }
  std::uint64_t changes() const override { return changed; }
  HttpResponse refuse(int status, const HttpRequest&, Exchange& ex) override {
    if (status < 400 || status > 505) std::abort();
    ex.begin(nullptr, 0, SteadyClock::now());
    return {status, "application/json", "{}", {}};
  }
  void finish(Exchange& ex, const HttpRequest&, int) noexcept override {
    if (ex.end()) --in_progress;
  }
  bool draining() const override { return drain; }
  // /echo keeps its body (up to 4 KiB) and every field, as the Service's does.
  RequestNeeds needs(std::string_view path) const noexcept override {
    if (path == "/echo") return {true, std::uint64_t{4096}};
    return {path == "/headers", std::nullopt};
  }

 private:
  void abandon(const Exchange&) noexcept override { --in_progress; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t piece = data[0] % 64 + 1;  // how the bytes arrive
  App app;
  app.hold = (data[1] & 1) != 0;
  const bool preface = (data[1] & 2) != 0;
  const bool drain_at_end = (data[1] & 4) != 0;
  HttpLimits limits;
  limits.max_output = 4096;
  limits.max_streams = 8;
  {
    CleartextProtocol p(limits, app, "127.0.0.1");
    std::string input = preface ? std::string(kHttp2Preface) : std::string();
    input.append(reinterpret_cast<const char*>(data + 2), size - 2);
    auto now = HttpNow{SteadyClock::now(), "Sun, 29 Nov 2026 20:00:00 GMT"};
    for (std::size_t i = 0; i < input.size(); i += piece) {
      std::string out;
      p.receive(std::string_view(input).substr(i, piece), out, now);
      for (int round = 0; round < 200; ++round) {
        if (out.size() > limits.max_output + 80 * 1024) std::abort();
        out.clear();
        const auto st = p.state(0);
        if (st.closing) break;
        if (st.holding) {
          now.steady = st.release_at;
          p.release(out, now);
        } else {
          p.resume(out, now);
        }
        if (out.empty()) break;
      }
      if (i / piece % 7 == 3) {  // the service changes now and then: Watches are asked again
        ++app.changed;
        p.notify(out, now);
      }
    }
    if (drain_at_end) {
      app.drain = true;
      std::string out;
      p.drain(out, now);
    }
  }
  if (app.in_progress != 0) std::abort();  // every exchange ended, answered or dropped with the protocol
  return 0;
}
