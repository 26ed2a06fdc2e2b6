#pragma once

// HTTP on a clear-text connection: HTTP/1.1, or HTTP/2 when the connection
// opens with HTTP/2's preface (prior knowledge, RFC 9113 3.3: gRPC clients,
// the kubelet's grpc probe, `curl --http2-prior-knowledge`) or when an
// HTTP/1.1 request upgrades (Upgrade: h2c, RFC 7540 3.2: `curl --http2`).
// The first bytes decide: while they are a prefix of the preface they are
// kept (under the request deadline), then handed whole to one protocol.

#include <memory>
#include <string>

#include "serve/http/conn_protocol.hpp"
#include "serve/http1/http_protocol.hpp"
#include "serve/http2/http2_protocol.hpp"

namespace devops::serve {

// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
inline constexpr std::string_view kHttp2Preface{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24};

class CleartextProtocol final : public ConnProtocol {
 public:
  CleartextProtocol(const HttpLimits& limits, HttpService& service, std::string peer);
  CleartextProtocol(const HttpLimits&& limits, HttpService& service, std::string peer) = delete;

  void receive(std::string_view data, std::string& out, const HttpNow& now) override;
  void resume(std::string& out, const HttpNow& now) override;
  void release(std::string& out, const HttpNow& now) override;
  bool drain(std::string& out, const HttpNow& now) override;
  void notify(std::string& out, const HttpNow& now) override;
  ProtoState state(std::size_t queued_output) const override;

  // "HTTP/1.1" or "HTTP/2" (once decided; HTTP/1.1 before).
  bool http2() const { return h2_ != nullptr; }

 private:
  // After HTTP/1.1 has worked: switches if it upgraded.
  void after_http1(std::string& out, const HttpNow& now);
  void to_http2(std::string& out, const HttpNow& now);

  const HttpLimits& limits_;
  HttpService& service_;
  std::string peer_;
  HttpProtocol h1_;
  std::unique_ptr<Http2Protocol> h2_;
  bool deciding_{true};
  std::string first_;  // the first bytes, while they may be the preface
  SteadyClock::time_point first_at_{};
};

}  // namespace devops::serve
