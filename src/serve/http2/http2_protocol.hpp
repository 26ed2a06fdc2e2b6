#pragma once

// HTTP/2 (RFC 9113) on one connection, without sockets: nghttp2's session
// on memory buffers. Bytes go in, each complete request on a stream goes to
// the HttpService as one Exchange, and frames come out. Framing, HPACK,
// flow control, stream states and the protocol's error answers (GOAWAY,
// RST_STREAM with the right codes) are nghttp2's; the limits it leaves to
// the server are kept here:
//  - a request's header list (HttpLimits::max_head, max_fields) and body
//    (max_body): past them the stream is answered 431 or 413;
//  - concurrent streams (max_streams, advertised in SETTINGS);
//  - a budget of frames that cost the server and give nothing (PING,
//    SETTINGS, RST_STREAM, PRIORITY, empty DATA, streams reset or refused),
//    refilled with time: a client that spends it gets GOAWAY
//    ENHANCE_YOUR_CALM and a close.
// gRPC calls (POST, application/grpc) have their one request message
// unframed for the service, and its answer framed, with grpc-status and
// grpc-message as trailers, or alone ("trailers-only") when there is no
// message. A call the service leaves open (a Watch) is asked again through
// HttpService::follow() at each notify().

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "serve/http/conn_protocol.hpp"
#include "serve/http/http_service.hpp"
#include "serve/http1/http_protocol.hpp"

struct nghttp2_session;

namespace devops::serve {

struct Http2Counters {
  std::uint64_t glitches{0};  // frames spent from the budget
  bool calmed{false};         // the budget ran out: GOAWAY ENHANCE_YOUR_CALM
};

class Http2Protocol final : public ConnProtocol {
 public:
  // Frames that cost the server and give nothing, per connection: the burst
  // allowed, and how many come back each second.
  static constexpr double kGlitchBurst = 1000;
  static constexpr double kGlitchesPerSecond = 100;

  // `limits` and `service` are kept by reference: they must outlive it. The
  // server's SETTINGS are queued at once.
  Http2Protocol(const HttpLimits& limits, HttpService& service, std::string peer, const HttpNow& now);
  Http2Protocol(const HttpLimits&& limits, HttpService& service, std::string peer, const HttpNow& now) = delete;
  ~Http2Protocol() override;

  // After an HTTP/1.1 Upgrade: the client's SETTINGS, its request (answered
  // on stream 1), then the bytes that followed it. False when the settings
  // are malformed: the connection closes.
  bool upgrade(const HttpProtocol::Upgrade& u, std::string& out, const HttpNow& now);

  void receive(std::string_view data, std::string& out, const HttpNow& now) override;
  void resume(std::string& out, const HttpNow& now) override;
  void release(std::string& out, const HttpNow& now) override;
  bool drain(std::string& out, const HttpNow& now) override;
  void notify(std::string& out, const HttpNow& now) override;
  ProtoState state(std::size_t queued_output) const override;

  const Http2Counters& counters() const { return counters_; }
  // Calls left open (gRPC Watch) in the whole process, against HttpLimits::max_watches.
  static std::size_t watches_open();
  std::size_t open_streams() const { return streams_.size(); }

  // One stream's state: defined inside the library (http2_stream.hpp).
  struct Stream;

 private:
  struct Callbacks;
  friend struct Callbacks;
  struct SessionDeleter {
    void operator()(nghttp2_session* s) const;
  };

  void feed(std::string_view data);
  void flush(std::string& out);
  Stream* stream(std::int32_t id) const;
  Stream& open_stream(std::int32_t id);
  void dispatch(Stream& s);
  void answer(Stream& s, const HttpResponse& resp);
  void submit(Stream& s, const HttpResponse& resp);
  void refresh(Stream& s);
  // Takes one frame from the budget; false (and GOAWAY) when it is spent.
  bool glitch();
  void fail();

  const HttpLimits& limits_;
  HttpService& service_;
  std::string peer_;
  std::unique_ptr<nghttp2_session, SessionDeleter> session_;
  std::map<std::int32_t, std::unique_ptr<Stream>> streams_;
  std::string pending_;  // input kept while output is backed up
  const HttpNow* now_{nullptr};
  std::uint64_t seen_changes_{0};
  double budget_{kGlitchBurst};
  SteadyClock::time_point budget_at_{};
  bool dead_{false};      // a fatal session error: close without writing more
  bool draining_{false};  // GOAWAY sent
  bool unread_{false};
  Http2Counters counters_;
};

}  // namespace devops::serve
