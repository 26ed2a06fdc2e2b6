#pragma once

// OpenSSL helpers shared by the TLS port (tls_context.cpp) and the two TLS
// clients (the probe's ClientSocket and the upstreams' UpstreamClient).
// Header-only: every layer that includes it links OpenSSL itself, and none
// of them needs the tls library for these.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <string>
#include <string_view>

namespace devops::serve {

// `what`, then the newest error OpenSSL queued, in words; the queue is emptied.
inline std::string openssl_error(std::string_view what) {
  std::string out(what);
  if (const auto e = ERR_get_error(); e != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    out += ": ";
    out += buf.data();
  }
  ERR_clear_error();
  return out;
}

// A client's connection made to expect `host`, a name or a numeric address
// as the URL gives it: the certificate must name it (when `verify`), and a
// name goes out as SNI. False when OpenSSL refuses the host.
inline bool expect_server(SSL* ssl, const std::string& host, bool verify) {
  in6_addr addr{};
  const bool numeric =
      ::inet_pton(AF_INET, host.c_str(), &addr) == 1 || ::inet_pton(AF_INET6, host.c_str(), &addr) == 1;
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (numeric ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1 : SSL_set1_host(ssl, host.c_str()) != 1) {
      return false;
    }
  }
  if (!numeric) SSL_set_tlsext_host_name(ssl, host.c_str());
  return true;
}

}  // namespace devops::serve
