#pragma once

// HTTP over TLS on one connection, without sockets: OpenSSL on two memory
// BIOs between the engine's bytes and the protocol inside. Ciphertext in,
// the handshake (under the request deadline), then plaintext to HTTP/1.1
// or, when ALPN chose h2, HTTP/2; their answers are encrypted into `out`.
// The engine sees a ConnProtocol like any other.

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "serve/http/conn_protocol.hpp"
#include "serve/http/http_service.hpp"
#include "serve/net/connection_stats.hpp"
#include "serve/tls/tls_context.hpp"

using SSL = struct ssl_st;

namespace devops::serve {

class TlsProtocol final : public ConnProtocol {
 public:
  // `stats` counts its handshake.
  TlsProtocol(std::shared_ptr<const TlsContext> ctx, const HttpLimits& limits, HttpService& service, std::string peer,
              TlsStats& stats);
  TlsProtocol(std::shared_ptr<const TlsContext>, const HttpLimits&&, HttpService&, std::string, TlsStats&) = delete;
  ~TlsProtocol() override;
  TlsProtocol(const TlsProtocol&) = delete;
  TlsProtocol& operator=(const TlsProtocol&) = delete;

  void receive(std::string_view data, std::string& out, const HttpNow& now) override;
  void resume(std::string& out, const HttpNow& now) override;
  void release(std::string& out, const HttpNow& now) override;
  bool drain(std::string& out, const HttpNow& now) override;
  void notify(std::string& out, const HttpNow& now) override;
  ProtoState state(std::size_t queued_output) const override;

  // After the handshake: the protocol ALPN chose ("h2", "http/1.1", or "" when none was offered).
  const std::string& alpn() const { return alpn_; }

 private:
  // Runs the handshake or reads what has been decrypted, then encrypts what
  // the protocol inside said.
  void start();
  // Out of the handshakes under way (done, failed or evicted).
  void unlist();
  // Another connection needs the room: the handshake ends here, unfinished.
  void evict();
  void pump(std::string& out, const HttpNow& now);
  bool handshake(std::string& out, const HttpNow& now);
  void seal(std::string& out);
  void flush(std::string& out);
  void fail(std::string& out);
  void trim();

  std::shared_ptr<const TlsContext> ctx_;  // kept while the SSL lives
  const HttpLimits& limits_;
  HttpService& service_;
  std::string peer_;
  TlsStats& stats_;
  SSL* ssl_{nullptr};
  std::unique_ptr<ConnProtocol> inner_;
  std::string plain_;  // the protocol's output, not yet encrypted
  std::string hello_;  // the first record until it is whole
  std::list<TlsProtocol*>::iterator pending_;
  bool listed_{false};
  std::string alpn_;
  SteadyClock::time_point started_{};
  bool began_{false};      // a byte has arrived
  bool failed_{false};     // closing without TLS (a bad handshake, garbage, plain HTTP)
  bool peer_done_{false};  // close_notify, or the stream broke
  bool shut_{false};       // our close_notify is out
  bool unread_{false};
};

}  // namespace devops::serve
