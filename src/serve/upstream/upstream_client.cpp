// The upstream client's calls: resolve, connect (each address in turn),
// send, read the answer, pool the connection; every step non-blocking and
// ended by the call's deadline.
#include "serve/upstream/upstream_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/probe_url.hpp"
#include "serve/http1/response_reader.hpp"
#include "serve/net/net_error.hpp"
#include "serve/net/reactor.hpp"
#include "serve/tls/openssl_util.hpp"

namespace devops::serve {

namespace {

thread_local UpstreamClient* tl_client = nullptr;

std::uint64_t unix_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string pool_key(const UpstreamTarget& t) {
  return (t.tls ? "https " : "http ") + t.host + ' ' + std::to_string(t.port);
}

// What an SSL_read_ex or SSL_write_ex that failed means, as recv and send
// would say it: -1 with errno EAGAIN (and in `wants` the events to wait
// for), 0 at the end of the stream (close_notify, or a TCP close without it:
// HTTP frames its own answers), -1 with errno set on an error.
ssize_t tls_failure(SSL* ssl, std::uint32_t& wants) {
  const int e = SSL_get_error(ssl, 0);
  const int err = errno;
  ERR_clear_error();
  switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      wants = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL:
      if (err == ECONNRESET || err == EPIPE) {
        errno = err;
        return -1;
      }
      return 0;
    default: errno = EPROTO; return -1;
  }
}

std::string describe_ms(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
  return fmt::format("{}ms", d.count());
}

std::string connect_error(int err) {
  switch (from_errno(err)) {
    case NetError::Refused: return "connection refused";
    case NetError::Unreachable: return "host unreachable";
    case NetError::TimedOut: return "connection timed out";
    default: return fmt::format("cannot connect: {}", std::strerror(err));
  }
}

}  // namespace

std::variant<UpstreamTarget, std::string> parse_upstream(std::string_view url) {
  auto parsed = core::parse_http_url(url);
  if (auto* e = std::get_if<core::ConfigError>(&parsed)) return e->message;
  auto& h = std::get<core::HttpTarget>(parsed);
  if (h.scheme != core::ProbeScheme::Http) {
    return std::string("only http:// and https:// upstreams are supported (grpc:// not yet)");
  }
  UpstreamTarget t;
  t.url = std::string(url);
  t.host = std::move(h.host);
  t.tls = h.tls;
  t.port = h.port;
  t.path = std::move(h.path);
  t.host_header = t.host.find(':') != std::string::npos ? fmt::format("[{}]", t.host) : t.host;
  if (t.port != (t.tls ? 443 : 80)) t.host_header += fmt::format(":{}", t.port);
  return t;
}

struct UpstreamClient::Call {
  std::uint64_t id{0};
  CallRequest req;
  std::function<void(CallResult)> done;
  Clock::time_point start{};
  std::uint64_t start_unix_ns{0};
  std::multimap<Clock::time_point, std::uint64_t>::iterator deadline;
  std::vector<ResolvedAddress> addresses;
  std::size_t next_address{0};
  std::string last_error;  // of the address tried last
  Conn* conn{nullptr};
  bool resolving{false};
  bool retried{false};
};

struct UpstreamClient::Conn : EventTag {
  explicit Conn(core::Fd f) : EventTag{true}, fd(std::move(f)) {}
  core::Fd fd;
  ~Conn() {
    if (ssl != nullptr) SSL_free(ssl);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  std::string key;  // pool_key
  enum class State { Connecting, Handshaking, Sending, Receiving, Idle } state{State::Connecting};
  SSL* ssl{nullptr};  // https://
  std::uint32_t events{0};
  std::string out;
  std::size_t out_pos{0};
  std::unique_ptr<ResponseReader> reader;
  Call* call{nullptr};
  bool reused{false};     // taken from the pool for this call
  bool got_bytes{false};  // of this call's answer
  Clock::time_point idle_until{};
};

UpstreamClient::UpstreamClient(Reactor& reactor, Resolver& resolver, std::string user_agent)
    : reactor_(reactor), resolver_(resolver), user_agent_(std::move(user_agent)), mail_(std::make_shared<Mail>()) {
  mail_->event.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!mail_->event.valid() || !reactor_.add(mail_->event.get(), EPOLLIN, &mail_tag_)) {
    throw std::system_error(errno, std::generic_category(), "upstream client: eventfd");
  }
}

UpstreamClient::~UpstreamClient() {
  if (tl_client == this) tl_client = nullptr;
  // Calls still open end unanswered (the loop is going): their callers' connections are gone too.
  for (auto& [k, conn] : conns_) reactor_.remove(conn->fd.get());
  reactor_.remove(mail_->event.get());
  for (auto& [path, ctx] : tls_contexts_) SSL_CTX_free(ctx);
}

UpstreamClient* UpstreamClient::here() {
  return tl_client;
}

void UpstreamClient::started() {
  tl_client = this;
}

void UpstreamClient::call(CallRequest req, std::function<void(CallResult)> done) {
  auto owned = std::make_unique<Call>();
  Call& c = *owned;
  c.id = next_id_++;
  c.req = std::move(req);
  c.done = std::move(done);
  c.start = Clock::now();
  c.start_unix_ns = unix_ns();
  c.deadline = deadlines_.emplace(c.start + c.req.timeout, c.id);
  calls_.emplace(c.id, std::move(owned));
  begin(c);
}

void UpstreamClient::begin(Call& c) {
  const auto& t = *c.req.target;
  // A connection kept from an earlier call, the most recent first.
  if (auto it = idle_.find(pool_key(t)); it != idle_.end() && !it->second.empty()) {
    Conn* k = it->second.back();
    it->second.pop_back();
    if (it->second.empty()) idle_.erase(it);
    k->call = &c;
    k->reused = true;
    c.conn = k;
    send_request(*k);
    return;
  }
  ResolvedAddress numeric;
  if (make_address(t.host, t.port, numeric.addr, numeric.len)) {
    c.addresses = {numeric};
    connect_next(c);
    return;
  }
  Resolution known;
  if (resolver_.cached(t.host, t.port, known)) {
    c.addresses = std::move(known.addresses);
    connect_next(c);
    return;
  }
  c.resolving = true;
  std::weak_ptr<Mail> mail = mail_;
  const auto id = c.id;
  const bool queued = resolver_.lookup(t.host, t.port, [mail, id](const Resolution& r) {
    const auto m = mail.lock();
    if (!m) return;
    {
      const std::lock_guard lock(m->mu);
      m->answers.emplace_back(id, r);
    }
    core::notify(m->event.get());
  });
  if (!queued) fail(c, "busy", "cannot resolve the name: too many lookups waiting");
}

void UpstreamClient::on_mail() {
  std::uint64_t n = 0;
  while (::read(mail_->event.get(), &n, sizeof n) > 0) {
  }
  std::vector<std::pair<std::uint64_t, Resolution>> answers;
  {
    const std::lock_guard lock(mail_->mu);
    answers.swap(mail_->answers);
  }
  for (auto& [id, r] : answers) {
    const auto it = calls_.find(id);
    if (it == calls_.end()) continue;  // it ended meanwhile (its deadline)
    Call& c = *it->second;
    c.resolving = false;
    if (r.addresses.empty()) {
      fail(c, "resolve", fmt::format("cannot resolve the name {}: {}", c.req.target->host, r.error));
      continue;
    }
    c.addresses = std::move(r.addresses);
    connect_next(c);
  }
}

void UpstreamClient::connect_next(Call& c) {
  while (c.next_address < c.addresses.size()) {
    const auto& a = c.addresses[c.next_address++];
    core::Fd fd(::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      c.last_error = connect_error(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len);
    if (rc != 0 && errno != EINPROGRESS) {
      c.last_error = connect_error(errno);
      continue;
    }
    auto owned = std::make_unique<Conn>(std::move(fd));
    Conn& k = *owned;
    k.key = pool_key(*c.req.target);
    k.call = &c;
    c.conn = &k;
    conns_.emplace(&k, std::move(owned));
    if (!reactor_.add(k.fd.get(), EPOLLOUT, static_cast<EventTag*>(&k))) {
      c.conn = nullptr;
      conns_.erase(&k);
      c.last_error = "cannot watch the socket";
      continue;
    }
    k.events = EPOLLOUT;
    if (rc == 0) {
      start_tls(k);
    } else {
      k.state = Conn::State::Connecting;
    }
    return;
  }
  fail(c, "connect", c.last_error.empty() ? std::string("no address to connect to") : c.last_error);
}

void UpstreamClient::watch(Conn& k, std::uint32_t events) {
  if (events == k.events) return;
  reactor_.modify(k.fd.get(), events, static_cast<EventTag*>(&k));
  k.events = events;
}

void UpstreamClient::send_request(Conn& k) {
  const Call& c = *k.call;
  const auto& t = *c.req.target;
  k.out = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: application/json\r\n{}: {}\r\n", t.path,
                      t.host_header, user_agent_, kHopsHeader, c.req.hops);
  if (!c.req.traceparent.empty()) {
    k.out += fmt::format("traceparent: {}\r\n", c.req.traceparent);
    if (!c.req.tracestate.empty()) k.out += fmt::format("tracestate: {}\r\n", c.req.tracestate);
  }
  k.out += "\r\n";
  k.out_pos = 0;
  k.got_bytes = false;
  k.reader = std::make_unique<ResponseReader>(c.req.max_body);
  k.state = Conn::State::Sending;
  on_conn(k, EPOLLOUT);
}

void UpstreamClient::on_event(EventTag* tag, std::uint32_t events) {
  if (tag == &mail_tag_) {
    on_mail();
  } else {
    auto* k = static_cast<Conn*>(tag);
    if (conns_.contains(k)) on_conn(*k, events);
  }
  tell_ended();
}

void UpstreamClient::on_conn(Conn& k, std::uint32_t events) {
  switch (k.state) {
    case Conn::State::Idle: {
      // A pooled connection has nothing to say: the upstream closed it, or broke the protocol.
      close(k);
      return;
    }
    case Conn::State::Connecting: {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(k.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0 && (events & (EPOLLERR | EPOLLHUP)) != 0) err = ECONNREFUSED;
      if (err != 0) {
        Call& c = *k.call;
        c.last_error = connect_error(err);
        c.conn = nullptr;
        k.call = nullptr;
        close(k);
        connect_next(c);
        return;
      }
      start_tls(k);
      return;
    }
    case Conn::State::Handshaking: handshake(k); return;
    case Conn::State::Sending: {
      while (k.out_pos < k.out.size()) {
        std::uint32_t wants = EPOLLOUT;
        const auto n = io_send(k, k.out.data() + k.out_pos, k.out.size() - k.out_pos, wants);
        if (n > 0) {
          k.out_pos += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
          watch(k, wants);
          return;
        } else {
          if (retry(k)) return;
          Call& c = *k.call;
          close(k);
          fail(c, "closed", "the upstream closed the connection before the request was sent");
          return;
        }
      }
      k.out.clear();
      k.state = Conn::State::Receiving;
      watch(k, EPOLLIN);
      return;
    }
    case Conn::State::Receiving: read_answer(k); return;
  }
}

void UpstreamClient::read_answer(Conn& k) {
  std::array<char, 16384> buf{};
  // Then back to the loop, so that a fast upstream shares it too; TLS reads on
  // until it wants more, as what it has decrypted wakes no epoll.
  for (int round = 0; round < 16 || k.ssl != nullptr; ++round) {
    std::uint32_t wants = EPOLLIN;
    const auto n = io_recv(k, buf.data(), buf.size(), wants);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      watch(k, wants);
      return;
    }
    auto progress = ResponseReader::Progress::More;
    if (n <= 0) {
      if (!k.got_bytes && retry(k)) return;
      if (n < 0 || !k.got_bytes) {
        Call& c = *k.call;
        const bool reset = n < 0 && errno == ECONNRESET;
        close(k);
        fail(c, "closed",
             reset ? "the upstream reset the connection" : "the upstream closed the connection before answering");
        return;
      }
      progress = k.reader->finish();
    } else {
      k.got_bytes = true;
      progress = k.reader->feed({buf.data(), static_cast<std::size_t>(n)});
    }
    Call& c = *k.call;
    switch (progress) {
      case ResponseReader::Progress::More:
        if (n == 0) {
          const int status = k.reader->status();
          close(k);
          fail(c, "closed", "the upstream closed the connection in the middle of its answer", status);
          return;
        }
        continue;
      case ResponseReader::Progress::TooLarge: {
        CallResult r;
        r.status = k.reader->status();
        r.error = fmt::format("answer too large (over {} bytes)", c.req.max_body);
        r.failure = "too_large";
        close(k);
        end(c, std::move(r));
        return;
      }
      case ResponseReader::Progress::Bad: {
        const auto why = k.reader->why();
        close(k);
        fail(c, "bad_answer", fmt::format("bad answer: {}", why));
        return;
      }
      case ResponseReader::Progress::Done: {
        CallResult r;
        r.status = k.reader->status();
        r.body = k.reader->body();
        const bool keep = k.reader->keep_alive() && n > 0;
        k.call = nullptr;
        c.conn = nullptr;
        if (keep) {
          pool(k);
        } else {
          close(k);
        }
        end(c, std::move(r));
        return;
      }
    }
  }
}

bool UpstreamClient::retry(Conn& k) {
  Call& c = *k.call;
  if (!k.reused || c.retried) return false;
  // A kept connection the upstream had closed meanwhile: once more, on a new one.
  c.retried = true;
  c.conn = nullptr;
  k.call = nullptr;
  close(k);
  // Not from the pool again: its other connections are as old.
  if (const auto it = idle_.find(pool_key(*c.req.target)); it != idle_.end()) {
    for (Conn* old : it->second) {
      reactor_.remove(old->fd.get());
      conns_.erase(old);
    }
    idle_.erase(it);
  }
  begin(c);
  return true;
}

void UpstreamClient::pool(Conn& k) {
  auto& list = idle_[k.key];
  if (list.size() >= kMaxIdlePerUpstream) {
    close(k);
    return;
  }
  k.state = Conn::State::Idle;
  k.reader.reset();
  k.reused = false;
  k.idle_until = Clock::now() + kIdleFor;
  watch(k, EPOLLIN);
  list.push_back(&k);
}

void UpstreamClient::close(Conn& k) {
  if (k.state == Conn::State::Idle) {
    if (auto it = idle_.find(k.key); it != idle_.end()) {
      std::erase(it->second, &k);
      if (it->second.empty()) idle_.erase(it);
    }
  }
  if (k.call != nullptr) k.call->conn = nullptr;
  reactor_.remove(k.fd.get());
  conns_.erase(&k);
}

void UpstreamClient::fail(Call& c, std::string_view kind, std::string why, int status) {
  CallResult r;
  // The status when the answer's head had come (a trickled body that timed out).
  if (status == 0 && c.conn != nullptr && c.conn->reader) status = c.conn->reader->status();
  r.status = status;
  r.error = std::move(why);
  r.failure = kind;
  end(c, std::move(r));
}

void UpstreamClient::end(Call& c, CallResult r) {
  if (c.conn != nullptr) {  // ended by its deadline while on a connection: the connection goes with it
    Conn& k = *c.conn;
    k.call = nullptr;
    c.conn = nullptr;
    close(k);
  }
  const auto now = Clock::now();
  r.took = now - c.start;
  r.start_unix_ns = c.start_unix_ns;
  r.end_unix_ns = unix_ns();
  deadlines_.erase(c.deadline);
  ended_.emplace_back(c.id, std::move(r));
}

void UpstreamClient::tell_ended() {
  while (!ended_.empty()) {
    auto batch = std::move(ended_);
    ended_.clear();
    for (auto& [id, r] : batch) {
      const auto it = calls_.find(id);
      if (it == calls_.end()) continue;
      auto done = std::move(it->second->done);
      calls_.erase(it);
      if (done) done(std::move(r));
    }
  }
}

UpstreamClient::Clock::time_point UpstreamClient::next_deadline() const {
  if (!ended_.empty()) return Clock::time_point::min();
  auto next = deadlines_.empty() ? Clock::time_point::max() : deadlines_.begin()->first;
  // Idle connections are looked at with the deadlines; a second late is fine.
  if (!idle_.empty()) next = std::min(next, Clock::now() + std::chrono::seconds(1));
  return next;
}

void UpstreamClient::expire(Clock::time_point now) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto id = deadlines_.begin()->second;
    Call& c = *calls_.at(id);
    fail(c, "timeout", fmt::format("timed out after {}", describe_ms(c.req.timeout)));
  }
  std::vector<Conn*> stale;
  for (const auto& [key, list] : idle_) {
    for (Conn* k : list) {
      if (k->idle_until <= now) stale.push_back(k);
    }
  }
  for (Conn* k : stale) close(*k);
  tell_ended();
}

SSL_CTX* UpstreamClient::tls_context(const std::string& cacert, std::string& why) {
  if (const auto it = tls_contexts_.find(cacert); it != tls_contexts_.end()) return it->second;
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    why = openssl_error("cannot make a TLS context");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle pooled connections keep no buffers
  const bool loaded = cacert.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                     : SSL_CTX_load_verify_locations(ctx, cacert.c_str(), nullptr) == 1;
  if (!loaded) {
    why = openssl_error("cannot read the CA file " + cacert);
    SSL_CTX_free(ctx);
    return nullptr;
  }
  tls_contexts_.emplace(cacert, ctx);
  return ctx;
}

void UpstreamClient::start_tls(Conn& k) {
  Call& c = *k.call;
  const auto& t = *c.req.target;
  if (!t.tls) {
    send_request(k);
    return;
  }
  std::string why;
  SSL_CTX* ctx = tls_context(c.req.cacert, why);
  k.ssl = ctx != nullptr ? SSL_new(ctx) : nullptr;
  if (k.ssl == nullptr || SSL_set_fd(k.ssl, k.fd.get()) != 1) {
    if (why.empty()) why = openssl_error("cannot start TLS");
    close(k);
    fail(c, "tls", std::move(why));
    return;
  }
  // The certificate must name the host as the URL does: a name, or an address.
  if (!expect_server(k.ssl, t.host, true)) {
    why = openssl_error("cannot verify for " + t.host);
    close(k);
    fail(c, "tls", std::move(why));
    return;
  }
  static constexpr unsigned char kAlpn[] = "\x08http/1.1";
  SSL_set_alpn_protos(k.ssl, kAlpn, sizeof kAlpn - 1);
  k.state = Conn::State::Handshaking;
  handshake(k);
}

void UpstreamClient::handshake(Conn& k) {
  ERR_clear_error();
  const int r = SSL_connect(k.ssl);
  if (r == 1) {
    send_request(k);
    return;
  }
  const int e = SSL_get_error(k.ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    watch(k, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
    return;
  }
  std::string why;
  if (const auto v = SSL_get_verify_result(k.ssl); v != X509_V_OK) {
    ERR_clear_error();
    why = std::string("TLS: certificate verify failed: ") + X509_verify_cert_error_string(v);
  } else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    why = "TLS: the upstream closed the connection in the handshake";
  } else {
    why = openssl_error("TLS: no handshake");
  }
  Call& c = *k.call;
  close(k);
  fail(c, "tls", std::move(why));
}

ssize_t UpstreamClient::io_send(Conn& k, const char* data, std::size_t size, std::uint32_t& wants) {
  wants = EPOLLOUT;
  if (k.ssl == nullptr) return ::send(k.fd.get(), data, size, MSG_NOSIGNAL);
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_write_ex(k.ssl, data, size, &n) == 1) return static_cast<ssize_t>(n);
  return tls_failure(k.ssl, wants);
}

ssize_t UpstreamClient::io_recv(Conn& k, char* data, std::size_t size, std::uint32_t& wants) {
  wants = EPOLLIN;
  if (k.ssl == nullptr) return ::recv(k.fd.get(), data, size, 0);
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_read_ex(k.ssl, data, size, &n) == 1) return static_cast<ssize_t>(n);
  return tls_failure(k.ssl, wants);
}

}  // namespace devops::serve
