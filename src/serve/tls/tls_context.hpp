#pragma once

// A TLS server context, built whole from the certificate, key and client
// CA files, checked, then never changed: rotation builds a new one and
// publishes it, new handshakes take the new one and connections already
// open keep theirs (each SSL holds a reference on its context).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

using SSL_CTX = struct ssl_ctx_st;

namespace devops::serve {

struct TlsFiles {
  std::string cert;       // PEM: the certificate, then its chain
  std::string key;        // PEM: the private key
  std::string client_ca;  // PEM: the CAs a client certificate must chain to; empty: none asked
  bool operator==(const TlsFiles&) const = default;
};

class TlsContext {
 public:
  // Builds a context from the files' contents as read (PEM text): TLS 1.3
  // and 1.2 (ECDHE with AEAD only), no renegotiation, no compression, ALPN
  // h2 then http/1.1, session tickets; mutual TLS when `pem.client_ca` is
  // set. Checks that the key matches the certificate, that the chain parses
  // and that the certificate has not expired. The error says what is wrong.
  static std::variant<std::shared_ptr<const TlsContext>, std::string> build(const TlsFiles& pem);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  // The served certificate's notAfter, in Unix seconds.
  std::int64_t not_after() const { return not_after_; }
  // Its subject, for the log ("CN=example").
  const std::string& subject() const { return subject_; }
  bool mutual() const { return mutual_; }

 private:
  TlsContext() = default;
  SSL_CTX* ctx_{nullptr};
  std::int64_t not_after_{0};
  std::string subject_;
  bool mutual_{false};
};

}  // namespace devops::serve
