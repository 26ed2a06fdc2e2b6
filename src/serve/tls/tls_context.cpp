#include "serve/tls/tls_context.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <ctime>
#include <memory>

#include "serve/tls/openssl_util.hpp"

namespace devops::serve {

namespace {

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bio mem(const std::string& pem) {
  return {BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free};
}

// ALPN: h2 if the client offers it, else http/1.1; a client offering
// neither gets no ALPN answer and speaks HTTP/1.1.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void*) {
  static constexpr unsigned char kOurs[] = "\x02h2\x08http/1.1";
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kOurs, sizeof kOurs - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

std::int64_t unix_seconds(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

}  // namespace

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

std::variant<std::shared_ptr<const TlsContext>, std::string> TlsContext::build(const TlsFiles& pem) {
  ERR_clear_error();
  std::shared_ptr<TlsContext> c(new TlsContext());
  c->ctx_ = SSL_CTX_new(TLS_server_method());
  if (c->ctx_ == nullptr) return openssl_error("cannot make a TLS context");
  SSL_CTX* ctx = c->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // TLS 1.2: ECDHE key exchange with AEAD ciphers only (TLS 1.3's suites are all AEAD).
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) return openssl_error("cipher list");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  // An idle connection gives its read and write buffers back (about 34 KiB).
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx, &select_alpn, nullptr);
  // Resumption by tickets, whose keys are this context's own: a new
  // certificate or CA refuses the old tickets. One ticket per handshake.
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  static constexpr unsigned char kSessionContext[] = "devops-info";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);

  // The certificate and its chain.
  auto bio = mem(pem.cert);
  X509Ptr leaf(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!leaf) return openssl_error("the certificate file holds no PEM certificate");
  if (SSL_CTX_use_certificate(ctx, leaf.get()) != 1) return openssl_error("the certificate");
  while (true) {
    X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (extra == nullptr) break;
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return openssl_error("the certificate chain");
    }
  }
  // What ended the chain must be the end of the text, not a broken certificate.
  const auto last = ERR_peek_last_error();
  if (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  } else if (last != 0) {
    return openssl_error("the certificate chain does not parse");
  }
  auto key_bio = mem(pem.key);
  KeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!key) return openssl_error("the key file holds no PEM private key");
  // A pair read in the middle of a swap: the new certificate with the old key.
  if (X509_check_private_key(leaf.get(), key.get()) != 1)
    return openssl_error("the key does not match the certificate");
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) return openssl_error("the private key");
  if (SSL_CTX_check_private_key(ctx) != 1) return openssl_error("the key does not match the certificate");

  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  c->not_after_ = unix_seconds(X509_get0_notAfter(leaf.get()));
  if (c->not_after_ <= now) return std::string("the certificate has expired");
  if (unix_seconds(X509_get0_notBefore(leaf.get())) > now + 300) return std::string("the certificate is not valid yet");
  std::array<char, 256> subject{};
  X509_NAME_oneline(X509_get_subject_name(leaf.get()), subject.data(), static_cast<int>(subject.size()));
  c->subject_ = subject.data();

  if (!pem.client_ca.empty()) {
    // Mutual TLS: a client certificate is required and must chain to these CAs.
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    auto ca_bio = mem(pem.client_ca);
    int cas = 0;
    while (X509* ca = PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store, ca);
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
      X509_free(ca);
      ++cas;
    }
    ERR_clear_error();
    if (cas == 0) {
      sk_X509_NAME_pop_free(names, X509_NAME_free);
      return std::string("the client CA file holds no PEM certificate");
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_verify_depth(ctx, 4);
    c->mutual_ = true;
  }
  return std::shared_ptr<const TlsContext>(std::move(c));
}

}  // namespace devops::serve
