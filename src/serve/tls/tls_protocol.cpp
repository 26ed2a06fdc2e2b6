#include "serve/tls/tls_protocol.hpp"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <list>

#include "serve/http1/http_protocol.hpp"
#include "serve/http2/http2_protocol.hpp"

namespace devops::serve {

namespace {

// A memory BIO that has grown past this while busy is replaced once empty,
// so that 10,000 idle connections do not each keep a burst's buffer.
constexpr std::size_t kKeepBioCapacity = 4096;
constexpr std::size_t kMaxRecord = 16384 + 256;  // a TLSPlaintext fragment (RFC 8446 5.1), with room
// Handshakes under way: past the first number on a loop, the loop's oldest
// makes room if it has waited for its client over a second; past the
// second in the whole process, whatever its age (2,048 x 46 KiB: 92 MiB at
// most, and a burst of 2,000 real clients at once fits).
constexpr std::size_t kHandshakesBeforeStaleOnesGo = 64;
constexpr std::size_t kMaxHandshakes = 2048;
constexpr auto kStaleHandshake = std::chrono::seconds(1);

constexpr std::string_view kPlainHttpAnswer =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 46\r\n\r\n"
    "This is the TLS port: use https:// to call it\n";

std::size_t capacity(BIO* b) {
  BUF_MEM* m = nullptr;
  BIO_get_mem_ptr(b, &m);
  return m == nullptr ? 0 : m->max;
}

// SSL_get_error reads the thread's error queue, which must be empty before
// each call it judges. It is nearly always empty already: emptying it then
// walks all its slots, looking costs one lookup (ERR_clear_error was the
// top user-space symbol of an HTTPS keep-alive profile).
void clear_errors() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

BIO* new_mem_bio() {
  BIO* b = BIO_new(BIO_s_mem());
  if (b == nullptr) throw std::bad_alloc();
  BIO_set_mem_eof_return(b, -1);  // empty means "more to come", not the end
  return b;
}

// The length of the TLS record at the start of `in` once it is whole, 0
// while it is not, npos when it is not a handshake record (RFC 8446 5.1).
std::size_t first_record(std::string_view in) {
  if (!in.empty() && in[0] != '\x16') return std::string::npos;
  if (in.size() >= 2 && in[1] != '\x03') return std::string::npos;
  if (in.size() < 5) return 0;
  const auto length =
      (static_cast<std::size_t>(static_cast<unsigned char>(in[3])) << 8) | static_cast<unsigned char>(in[4]);
  if (length == 0 || length > kMaxRecord) return std::string::npos;
  return in.size() >= 5 + length ? 5 + length : 0;
}

// Handshakes under way on this thread (an event loop's), oldest first: each
// holds about 46 KiB of OpenSSL's state until it finishes. A new one evicts
// the oldest when there are many and it is stale, or too many: 10,000 begun
// and never finished cost a few MiB, a real client's gets through, and a
// burst of real ones (2,000 at once) is not cut.
struct Pending {
  std::list<TlsProtocol*> list;
};
thread_local Pending t_pending;
std::atomic<std::size_t> g_pending{0};  // every loop's

}  // namespace

TlsProtocol::TlsProtocol(std::shared_ptr<const TlsContext> ctx, const HttpLimits& limits, HttpService& service,
                         std::string peer, TlsStats& stats)
    : ctx_(std::move(ctx)), limits_(limits), service_(service), peer_(std::move(peer)), stats_(stats) {}

void TlsProtocol::start() {
  // At the ClientHello, not at accept: an SSL costs 9 KiB before its
  // handshake (OpenSSL 3.0), and a connection that says nothing costs none.
  if (const auto n = t_pending.list.size(); n > 0) {
    TlsProtocol* oldest = t_pending.list.front();
    const bool stale = n >= kHandshakesBeforeStaleOnesGo && started_ - oldest->started_ > kStaleHandshake;
    if (stale || g_pending.load(std::memory_order_relaxed) >= kMaxHandshakes) oldest->evict();
  }
  ssl_ = SSL_new(ctx_->get());
  if (ssl_ == nullptr) throw std::bad_alloc();
  SSL_set_bio(ssl_, new_mem_bio(), new_mem_bio());
  SSL_set_accept_state(ssl_);
  pending_ = t_pending.list.insert(t_pending.list.end(), this);
  g_pending.fetch_add(1, std::memory_order_relaxed);
  listed_ = true;
}

void TlsProtocol::unlist() {
  if (!listed_) return;
  t_pending.list.erase(pending_);
  g_pending.fetch_sub(1, std::memory_order_relaxed);
  listed_ = false;
}

void TlsProtocol::evict() {
  unlist();
  stats_.evicted.fetch_add(1, std::memory_order_relaxed);
  SSL_free(ssl_);  // its memory back at once; the connection closes at its next event or deadline
  ssl_ = nullptr;
  failed_ = true;
  unread_ = true;
}

TlsProtocol::~TlsProtocol() {
  unlist();
  inner_.reset();  // before the SSL: a held exchange is abandoned first
  SSL_free(ssl_);
}

void TlsProtocol::flush(std::string& out) {
  if (ssl_ == nullptr) return;
  BIO* w = SSL_get_wbio(ssl_);
  const auto pending = BIO_ctrl_pending(w);
  if (pending == 0) return;
  const auto at = out.size();
  out.resize(at + pending);
  const int n = BIO_read(w, out.data() + at, static_cast<int>(pending));
  out.resize(at + static_cast<std::size_t>(n > 0 ? n : 0));
}

void TlsProtocol::fail(std::string& out) {
  flush(out);  // an alert, if OpenSSL wrote one
  unlist();
  failed_ = true;
  unread_ = true;
  inner_.reset();
}

void TlsProtocol::receive(std::string_view data, std::string& out, const HttpNow& now) {
  if (failed_ || peer_done_) {
    unread_ = unread_ || !data.empty();
    return;
  }
  if (!began_) {
    began_ = true;
    started_ = now.steady;
    // A TLS record begins with a byte under 0x20; a letter is plain HTTP
    // ("GET /", "POST"): told in clear text where it went wrong.
    if (!data.empty() && data.front() >= 'A' && data.front() <= 'Z') {
      stats_.plain_http.fetch_add(1, std::memory_order_relaxed);
      out.append(kPlainHttpAnswer);
      failed_ = true;
      unread_ = true;
      return;
    }
  }
  if (ssl_ == nullptr) {
    // OpenSSL gets the ClientHello's record whole: an SSL mid-record holds
    // a 16 KiB read buffer, and a ClientHello trickled a byte a second
    // would hold one for the whole request deadline.
    hello_.append(data);
    const auto whole = first_record(hello_);
    if (whole == 0) return;
    if (whole == std::string::npos) {  // not a TLS handshake record
      stats_.failed.fetch_add(1, std::memory_order_relaxed);
      fail(out);
      return;
    }
    start();
    data = hello_;
  }
  if (!data.empty() && BIO_write(SSL_get_rbio(ssl_), data.data(), static_cast<int>(data.size())) <= 0) {
    throw std::bad_alloc();
  }
  hello_.clear();
  hello_.shrink_to_fit();
  pump(out, now);
}

bool TlsProtocol::handshake(std::string& out, const HttpNow& now) {
  clear_errors();
  const int r = SSL_do_handshake(ssl_);
  flush(out);
  if (r != 1) {
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ) return false;
    stats_.failed.fetch_add(1, std::memory_order_relaxed);
    ERR_clear_error();
    fail(out);
    return false;
  }
  stats_.handshakes.fetch_add(1, std::memory_order_relaxed);
  unlist();
  const unsigned char* proto = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &proto, &len);
  alpn_.assign(reinterpret_cast<const char*>(proto), len);
  if (alpn_ == "h2") {
    inner_ = std::make_unique<Http2Protocol>(limits_, service_, peer_, now);
  } else {
    inner_ = std::make_unique<HttpProtocol>(limits_, service_, peer_);
  }
  return true;
}

void TlsProtocol::pump(std::string& out, const HttpNow& now) {
  if (!inner_ && !handshake(out, now)) return;
  std::array<char, 16384> buf;  // filled by SSL_read_ex: not zeroed, 16 KiB a call
  BIO* r = SSL_get_rbio(ssl_);
  clear_errors();
  while (inner_ && !peer_done_) {
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, buf.data(), buf.size(), &n) == 1) {
      inner_->receive({buf.data(), n}, plain_, now);
      // Nothing decrypted left and no bytes to decrypt: the next read
      // would only say so (a request is one record, nearly always).
      if (SSL_pending(ssl_) == 0 && BIO_ctrl_pending(r) == 0) break;
      continue;
    }
    const int e = SSL_get_error(ssl_, 0);
    if (e == SSL_ERROR_WANT_READ) break;
    ERR_clear_error();
    peer_done_ = true;  // close_notify (SSL_ERROR_ZERO_RETURN), or a broken record
    if (e != SSL_ERROR_ZERO_RETURN) {
      fail(out);
      return;
    }
  }
  seal(out);
}

void TlsProtocol::seal(std::string& out) {
  if (!plain_.empty() && inner_) {
    clear_errors();
    std::size_t written = 0;
    if (SSL_write_ex(ssl_, plain_.data(), plain_.size(), &written) != 1) {
      ERR_clear_error();
      plain_.clear();
      fail(out);
      return;
    }
    plain_.clear();
  }
  // The protocol inside is done with the connection: close_notify goes with its last bytes.
  if (inner_ && !shut_ && inner_->state(0).closing) {
    shut_ = true;
    clear_errors();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  flush(out);
  trim();
}

void TlsProtocol::trim() {
  if (plain_.capacity() > limits_.max_output) std::string().swap(plain_);
  BIO* r = SSL_get_rbio(ssl_);
  BIO* w = SSL_get_wbio(ssl_);
  if (BIO_ctrl_pending(r) == 0 && capacity(r) > kKeepBioCapacity) SSL_set0_rbio(ssl_, new_mem_bio());
  if (BIO_ctrl_pending(w) == 0 && capacity(w) > kKeepBioCapacity) {
    BIO_up_ref(r);  // SSL_set_bio frees what it replaces; the read BIO stays
    SSL_set_bio(ssl_, SSL_get_rbio(ssl_), new_mem_bio());
  }
}

void TlsProtocol::resume(std::string& out, const HttpNow& now) {
  if (!inner_) return;
  inner_->resume(plain_, now);
  pump(out, now);
}

void TlsProtocol::release(std::string& out, const HttpNow& now) {
  if (!inner_) return;
  inner_->release(plain_, now);
  seal(out);
}

bool TlsProtocol::drain(std::string& out, const HttpNow& now) {
  if (!inner_) return true;  // no request yet: closes at once
  const bool now_ok = inner_->drain(plain_, now);
  seal(out);
  return now_ok;
}

void TlsProtocol::notify(std::string& out, const HttpNow& now) {
  if (!inner_) return;
  inner_->notify(plain_, now);
  seal(out);
}

ProtoState TlsProtocol::state(std::size_t queued_output) const {
  ProtoState s;
  if (failed_) {
    s.closing = true;
    s.unread_input = unread_;
    return s;
  }
  if (!inner_) {
    // The handshake: under the request deadline from its first byte; before it, idle.
    s.idle = !began_;
    s.mid_request = began_;
    s.request_started = started_;
    s.wants_input = true;
    return s;
  }
  s = inner_->state(queued_output);
  if (peer_done_ && !s.closing) {
    // The client said close_notify: what is in flight is finished, then the connection closes.
    s.closing = s.idle || !s.mid_request;
    s.wants_input = false;
  }
  return s;
}

}  // namespace devops::serve
