// The TLS layer on byte strings: an in-memory OpenSSL client against
// TlsProtocol, the bytes moved by hand; and TlsContext's checks.
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "catch.hpp"
#include "serve/tls/tls_context.hpp"
#include "serve/tls/tls_protocol.hpp"

using namespace devops::serve;

namespace {

// Answers 200 with the path as the body.
struct App final : HttpService {
  std::vector<std::string> paths;
  HttpResponse handle(const HttpRequest& req, Exchange& ex) noexcept override {
    ex.begin(nullptr, 0, SteadyClock::now());
    paths.emplace_back(req.path);
    return {200, "text/plain", std::string(req.path), {}};
  }
  HttpResponse refuse(int status, const HttpRequest&, Exchange& ex) override {
    ex.begin(nullptr, 0, SteadyClock::now());
    return {status, "text/plain", "refused", {}};
  }
  void finish(Exchange& ex, const HttpRequest&, int) noexcept override { (void)ex.end(); }
  bool draining() const override { return false; }

 private:
  void abandon(const Exchange&) noexcept override {}
};

std::string pem_of(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return {data, static_cast<std::size_t>(n)};
}

// A self-signed P-256 certificate for CN=test, valid from `from` to `to`
// seconds around now, and its key, as PEM.
struct Pair {
  std::string cert, key;
};
Pair make_pair(long from = -60, long to = 86400) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), from);
  X509_gmtime_adj(X509_getm_notAfter(x), to);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* c = BIO_new(BIO_s_mem());
  BIO* k = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(c, x);
  PEM_write_bio_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  Pair p{pem_of(c), pem_of(k)};
  BIO_free(c);
  BIO_free(k);
  X509_free(x);
  EVP_PKEY_free(key);
  return p;
}

std::shared_ptr<const TlsContext> context(const Pair& p) {
  auto built = TlsContext::build({p.cert, p.key, {}});
  REQUIRE(std::holds_alternative<std::shared_ptr<const TlsContext>>(built));
  return std::get<std::shared_ptr<const TlsContext>>(built);
}

HttpNow at() {
  return {SteadyClock::now(), "Mon, 07 Dec 2026 05:00:00 GMT"};
}

// An OpenSSL client on memory BIOs that trusts anything (the server side is under test).
struct Client {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  explicit Client(const char* alpn = "\x08http/1.1") {
    ssl = SSL_new(ctx);
    SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_connect_state(ssl);
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn), static_cast<unsigned>(strlen(alpn)));
  }
  ~Client() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  std::string take() {
    std::string out;
    char buf[16384];
    int n = 0;
    while ((n = BIO_read(SSL_get_wbio(ssl), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  void give(const std::string& in) {
    if (!in.empty()) BIO_write(SSL_get_rbio(ssl), in.data(), static_cast<int>(in.size()));
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while (SSL_read_ex(ssl, buf, sizeof buf, &n) == 1) out.append(buf, n);
    return out;
  }
};

// Handshakes and moves bytes until neither side has more; the server's
// input in pieces of `piece` bytes (0: whole).
void pump(TlsProtocol& server, Client& c, std::size_t piece = 0) {
  for (int round = 0; round < 20; ++round) {
    SSL_do_handshake(c.ssl);
    const auto in = c.take();
    std::string out;
    if (piece == 0) {
      server.receive(in, out, at());
    } else {
      for (std::size_t i = 0; i < in.size(); i += piece)
        server.receive(std::string_view(in).substr(i, piece), out, at());
    }
    server.resume(out, at());
    if (in.empty() && out.empty()) return;
    c.give(out);
  }
}

}  // namespace

TEST_CASE("TLS: a handshake in any split, then HTTP/1.1 through it, and ALPN picks the protocol") {
  const auto ctx = context(make_pair());
  HttpLimits limits;
  for (const std::size_t piece : {0UL, 1UL, 7UL, 100UL}) {
    INFO("server input in pieces of " << piece);
    App app;
    TlsStats stats;
    TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
    Client c;
    CHECK(p.state(0).idle);  // nothing yet: idle, no TLS state made
    pump(p, c, piece);
    REQUIRE(SSL_is_init_finished(c.ssl) == 1);
    CHECK(p.alpn() == "http/1.1");
    CHECK(stats.handshakes == 1);
    const std::string req = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    SSL_write(c.ssl, req.data(), static_cast<int>(req.size()));
    pump(p, c, piece);
    const auto answer = c.read_all();
    CHECK(answer.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(answer.ends_with("/health"));
    CHECK(app.paths == std::vector<std::string>{"/health"});
    CHECK(p.state(0).idle);
  }
  App app;
  TlsStats stats;
  TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
  Client c("\x02h2\x08http/1.1");
  pump(p, c);
  CHECK(p.alpn() == "h2");
}

TEST_CASE("TLS: plain HTTP gets a 400 in clear text, garbage is closed, both counted") {
  const auto ctx = context(make_pair());
  HttpLimits limits;
  App app;
  TlsStats stats;
  {
    TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
    std::string out;
    p.receive("GET / HTTP/1.1\r\nHost: t\r\n\r\n", out, at());
    CHECK(out.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(out.find("use https://") != std::string::npos);
    CHECK(p.state(0).closing);
  }
  for (const std::string& garbage : {std::string("\x00\x01\x02\x03\x04\x05", 6), std::string("\x16\x07\x01\x00\x05", 5),
                                     std::string("\x16\x03\x01\xff\xff", 5)}) {
    TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
    std::string out;
    p.receive(garbage, out, at());
    CHECK(p.state(0).closing);
  }
  CHECK(stats.plain_http == 1);
  CHECK(stats.failed == 3);
  CHECK(app.paths.empty());
}

TEST_CASE(
    "TLS: a ClientHello trickled a byte at a time is under the request deadline and made into TLS state once whole") {
  const auto ctx = context(make_pair());
  HttpLimits limits;
  App app;
  TlsStats stats;
  TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
  Client c;
  SSL_do_handshake(c.ssl);
  const auto hello = c.take();
  std::string out;
  const auto t0 = at();
  for (std::size_t i = 0; i + 1 < hello.size(); ++i) {
    p.receive(hello.substr(i, 1), out, t0);
    const auto st = p.state(0);
    CHECK(st.mid_request);  // the request deadline runs from the first byte
    CHECK(st.request_started == t0.steady);
    CHECK_FALSE(st.closing);
  }
  CHECK(out.empty());  // nothing answered before the record is whole
  p.receive(hello.substr(hello.size() - 1), out, t0);
  CHECK_FALSE(out.empty());  // the server's flight
}

TEST_CASE("TLS: handshakes under way past the bound evict the oldest; past 64, a stale one goes first") {
  const auto ctx = context(make_pair());
  HttpLimits limits;
  App app;
  TlsStats stats;
  Client c;
  SSL_do_handshake(c.ssl);
  const auto hello = c.take();
  const auto now = at();  // one moment for all: none is stale
  std::vector<std::unique_ptr<TlsProtocol>> held;
  for (int i = 0; i < 2049; ++i) {
    held.push_back(std::make_unique<TlsProtocol>(ctx, limits, app, "192.0.2.7", stats));
    std::string out;
    held.back()->receive(hello, out, now);
  }
  CHECK(stats.evicted == 1);
  CHECK(held.front()->state(0).closing);  // the oldest, closed to make room
  CHECK_FALSE(held.back()->state(0).closing);
  held.clear();  // each leaves the count of those under way
  TlsProtocol p(ctx, limits, app, "192.0.2.7", stats);
  std::string out;
  p.receive(hello, out, now);
  CHECK(stats.evicted == 1);

  // 64 under way on this loop, the oldest waiting over a second: a new one takes its place.
  for (int i = 0; i < 63; ++i) {
    held.push_back(std::make_unique<TlsProtocol>(ctx, limits, app, "192.0.2.7", stats));
    held.back()->receive(hello, out, now);
  }
  CHECK(stats.evicted == 1);
  auto later = now;
  later.steady += std::chrono::milliseconds(1500);
  TlsProtocol q(ctx, limits, app, "192.0.2.7", stats);
  q.receive(hello, out, later);
  CHECK(stats.evicted == 2);
  CHECK(p.state(0).closing);  // the one from `now`, the oldest
}

TEST_CASE("TLS contexts: a bad, mismatched, expired or half-written pair is refused with the reason") {
  const auto good = make_pair();
  const auto other = make_pair();
  auto error = [](const TlsFiles& f) {
    auto built = TlsContext::build(f);
    return std::holds_alternative<std::string>(built) ? std::get<std::string>(built) : std::string();
  };
  CHECK(error({good.cert, good.key, {}}).empty());
  CHECK(error({good.cert, other.key, {}}).starts_with("the key does not match the certificate"));
  CHECK(error({"not PEM", good.key, {}}).starts_with("the certificate file holds no PEM certificate"));
  CHECK(error({good.cert.substr(0, good.cert.size() / 2), good.key, {}}).starts_with("the certificate file holds no"));
  CHECK(error({good.cert, good.key.substr(0, 40), {}}).starts_with("the key file holds no PEM private key"));
  const auto expired = make_pair(-86400, -60);
  CHECK(error({expired.cert, expired.key, {}}) == "the certificate has expired");
  const auto future = make_pair(86400, 2 * 86400);
  CHECK(error({future.cert, future.key, {}}) == "the certificate is not valid yet");
  CHECK(error({good.cert, good.key, "no CA here"}) == "the client CA file holds no PEM certificate");
  auto built = TlsContext::build({good.cert, good.key, other.cert});
  REQUIRE(std::holds_alternative<std::shared_ptr<const TlsContext>>(built));
  CHECK(std::get<std::shared_ptr<const TlsContext>>(built)->mutual());
  CHECK(std::get<std::shared_ptr<const TlsContext>>(built)->subject() == "/CN=test");
}
