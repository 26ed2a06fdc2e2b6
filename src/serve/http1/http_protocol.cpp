#include "serve/http1/http_protocol.hpp"

#include "serve/http/deferred.hpp"

// Boost 1.74's Asio headers miss this include under C++20 with GCC 12.
#include <utility>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include <cctype>
#include <charconv>
#include <cstring>

namespace devops::serve {

namespace {

namespace http = boost::beast::http;
using boost::beast::error_code;
using BeastView = boost::beast::string_view;

// The status for a request Beast's parser refused.
int status_for(const error_code& ec) {
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::header_limit) return 431;
  return 400;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kSwitchToH2c =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n";

// Whether the comma-separated list `list` holds `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (boost::beast::iequals(BeastView(item.data(), item.size()), BeastView(token.data(), token.size()))) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

namespace {
constexpr std::size_t kMaxChunkLine = 4096;  // a chunk-size line, extensions included

}  // namespace

// Beast's request parser, keeping what the application needs. It owns copies
// of the request's strings, so a held answer can outlive the input buffer.
struct HttpProtocol::Parser final : http::basic_parser<true> {
  std::string method;
  std::string target;
  std::string path;
  std::string user_agent;
  std::string accept;  // every Accept field, joined with ", "
  int version{11};
  int hosts{0};
  bool expect_continue{false};
  bool transfer_encoding{false};
  std::string upgrade;     // Upgrade, joined
  std::string connection;  // Connection, joined
  std::string h2_settings;
  int h2_settings_fields{0};
  std::string forwarded_for;  // X-Forwarded-For, joined
  std::string forwarded;      // Forwarded, joined
  std::string traceparent, tracestate;
  // Every field, and the body, for a route that asked for them (HttpService::needs).
  const HttpService& service;
  std::uint64_t max_kept_bodies;
  bool want_fields{false};
  bool keep_body{false};
  KeptBody body;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<HeaderField> field_views;
  int status{0};  // our own refusal, where Beast's error code says too little

  Parser(const HttpLimits& limits, const HttpService& s) : service(s), max_kept_bodies(limits.max_kept_bodies) {
    header_limit(static_cast<std::uint32_t>(limits.max_head + 4));
    body_limit(limits.max_body);
    eager(true);
  }

  // The request as the service sees it; its views live as long as the parser.
  HttpRequest request(std::string_view peer) const {
    const auto q = std::string_view(target).find('?');
    const auto query = q == std::string_view::npos ? std::string_view() : std::string_view(target).substr(q + 1);
    HttpRequest r{method, path, peer, user_agent, query, accept};
    r.protocol = version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    r.fields = field_views;
    r.forwarded_for = forwarded_for;
    r.forwarded = forwarded;
    r.traceparent = traceparent;
    r.tracestate = tracestate;
    r.body = body.view();
    return r;
  }

 private:
  static void join(std::string& to, BeastView v) {
    if (!to.empty()) to.append(", ");
    to.append(v.data(), v.size());
  }

 public:
 private:
  void on_request_impl(http::verb, BeastView m, BeastView t, int v, error_code& ec) override {
    method.assign(m.data(), m.size());
    target.assign(t.data(), t.size());
    version = v;
    if (v != 10 && v != 11) {
      status = 505;
      ec = http::error::bad_version;
    } else if (!decode_target_path(target, path)) {
      status = 400;
      ec = http::error::bad_target;
    }
    if (status != 0) return;
    const auto needs = service.needs(path);
    want_fields = needs.fields;
    if (needs.body) {
      keep_body = true;
      body_limit(*needs.body);
    }
  }
  void on_response_impl(int, BeastView, int, error_code&) override {}
  void on_field_impl(http::field f, BeastView name, BeastView v, error_code&) override {
    if (want_fields) fields.emplace_back(std::string(name.data(), name.size()), std::string(v.data(), v.size()));
    switch (f) {
      case http::field::upgrade: join(upgrade, v); break;
      case http::field::forwarded: join(forwarded, v); break;
      case http::field::unknown:
        if (boost::beast::iequals(name, "X-Forwarded-For")) {
          join(forwarded_for, v);
        } else if (boost::beast::iequals(name, "traceparent")) {
          keep_traceparent(traceparent, {v.data(), v.size()});
        } else if (boost::beast::iequals(name, "tracestate")) {
          keep_tracestate(tracestate, {v.data(), v.size()});
        }
        break;
      case http::field::connection: join(connection, v); break;
      case http::field::http2_settings:
        ++h2_settings_fields;
        h2_settings.assign(v.data(), v.size());
        break;
      case http::field::host: ++hosts; break;
      case http::field::user_agent:
        if (user_agent.empty()) user_agent.assign(v.data(), v.size());
        break;
      case http::field::accept:
        if (!accept.empty()) accept.append(", ");
        accept.append(v.data(), v.size());
        break;
      case http::field::expect: expect_continue = expect_continue || boost::beast::iequals(v, "100-continue"); break;
      case http::field::transfer_encoding: transfer_encoding = true; break;
      default: break;
    }
  }
  void on_header_impl(error_code& ec) override {
    for (const auto& [n, v] : fields) field_views.push_back({n, v});
    // RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
    if (hosts > 1 || (version == 11 && hosts == 0)) {
      status = 400;
      ec = http::error::bad_value;
    }
    // RFC 9112 6.1: chunked must be the final coding, and HTTP/1.0 has none.
    if (transfer_encoding && (version == 10 || !chunked())) {
      status = 400;
      ec = http::error::bad_transfer_encoding;
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code& ec) override {
    // Within the route's limit (Beast checked it), counted at once.
    if (keep_body && length && !body.reserve(*length, max_kept_bodies)) {
      status = 503;  // the process holds all the bodies it may
      ec = http::error::body_limit;
    }
  }
  std::size_t on_body_impl(BeastView b, error_code& ec) override { return keep(b, ec); }
  void on_chunk_header_impl(std::uint64_t, BeastView, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, BeastView b, error_code& ec) override { return keep(b, ec); }
  // A body is kept only for a route that asked for it; others are dropped.
  std::size_t keep(BeastView b, error_code& ec) {
    if (keep_body && !body.append({b.data(), b.size()}, max_kept_bodies)) {
      status = 503;  // the process holds all the bodies it may
      ec = http::error::body_limit;
      return 0;
    }
    return b.size();
  }
  void on_finish_impl(error_code&) override {}
};

struct HttpProtocol::Held {
  std::unique_ptr<Parser> parser;
  HttpRequest request;  // views into the parser's strings
  Exchange exchange;    // dropped with the connection: no longer in progress
  HttpResponse response;
  bool close{false};
  SteadyClock::time_point release{};
};

HttpProtocol::HttpProtocol(const HttpLimits& limits, HttpService& service, std::string peer)
    : limits_(limits), service_(service), peer_(std::move(peer)) {}
HttpProtocol::~HttpProtocol() = default;

SteadyClock::time_point HttpProtocol::release_at() const {
  return held_ ? held_->release : SteadyClock::time_point::max();
}

bool HttpProtocol::wants_input(std::size_t queued_output) const {
  return !done() && held_ == nullptr && queued_output < limits_.max_output;
}

ProtoState HttpProtocol::state(std::size_t queued_output) const {
  ProtoState s;
  s.closing = closing();
  s.unread_input = unread_;
  s.holding = holding();
  s.idle = idle();
  s.wants_input = wants_input(queued_output);
  s.mid_request = mid_request();
  if (s.mid_request) s.request_started = request_start_;
  if (s.holding) s.release_at = held_->release;
  return s;
}

bool HttpProtocol::drain(std::string&, const HttpNow&) {
  return held_ == nullptr;
}

HttpProtocol::Upgrade HttpProtocol::take_upgrade() {
  Upgrade u = upgrade_ ? std::move(*upgrade_) : Upgrade{};
  u.rest = std::move(pending_);
  pending_.clear();
  upgrade_.reset();
  return u;
}

bool HttpProtocol::try_upgrade(std::string& out) {
  const Parser& p = *parser_;
  // RFC 7540 3.2: Upgrade names h2c, Connection names Upgrade and
  // HTTP2-Settings, one HTTP2-Settings field, and a request without a body
  // (this is called only for a request complete at its head; one with a
  // body is answered over HTTP/1.1). Not while draining: the connection is about to close.
  if (!offer_h2c_ || p.version != 11 || service_.draining() || !has_token(p.upgrade, "h2c") ||
      !has_token(p.connection, "Upgrade") || !has_token(p.connection, "HTTP2-Settings") || p.h2_settings_fields != 1) {
    return false;
  }
  auto u = std::make_unique<Upgrade>();
  if (!decode_base64url(p.h2_settings, u->settings) || u->settings.size() % 6 != 0) return false;
  u->method = p.method;
  u->target = p.target;
  u->path = p.path;
  u->user_agent = p.user_agent;
  u->accept = p.accept;
  out.append(kSwitchToH2c);
  upgrade_ = std::move(u);
  state_ = State::Upgraded;
  parser_.reset();
  return true;
}

void HttpProtocol::receive(std::string_view data, std::string& out, const HttpNow& now) {
  if (state_ == State::Closed) {
    unread_ = unread_ || !data.empty();
    return;
  }
  if (pending_.empty()) {
    // The usual case: parse straight from the read buffer, keep only a rest.
    const auto used = process(data, out, now);
    if (used < data.size() && state_ != State::Closed) pending_.assign(data.substr(used));
    return;
  }
  pending_.append(data);
  go_on(out, now);
}

void HttpProtocol::resume(std::string& out, const HttpNow& now) {
  unsent_.clear();  // the engine resumes once all output has been written
  go_on(out, now);
}

void HttpProtocol::go_on(std::string& out, const HttpNow& now) {
  if (pending_.empty()) return;
  const auto used = process(pending_, out, now);
  if (state_ == State::Closed) {
    pending_.clear();
  } else {
    pending_.erase(0, used);  // after an upgrade, what is left is HTTP/2's
  }
}

std::size_t HttpProtocol::process(std::string_view buf, std::string& out, const HttpNow& now) {
  std::size_t pos = 0;
  while (pos < buf.size()) {
    if (state_ == State::Upgraded) return pos;  // the rest is HTTP/2's
    if (state_ == State::Closed) {
      unread_ = true;  // e.g. requests pipelined behind one that closes
      return buf.size();
    }
    if (held_ != nullptr || out.size() >= limits_.max_output) break;
    const auto rest = buf.substr(pos);
    if (state_ == State::Body) {
      const auto n = feed_body(rest, out, now);
      if (n == 0 && state_ == State::Body) break;  // needs more
      pos += n;
      continue;
    }
    if (state_ == State::Idle) {
      // RFC 9112 2.2: empty lines before a request line are ignored.
      if (rest.starts_with("\r\n")) {
        pos += 2;
        continue;
      }
      if (rest == "\r") break;
      state_ = State::Head;
      request_start_ = now.steady;
      scanned_ = 0;
      fields_ = 0;
    }
    int status = 0;
    const auto head_len = scan_head(rest, status);
    if (status != 0) {
      fail(status, out, now);
      continue;
    }
    if (head_len == 0) break;  // needs more
    pos += parse_head(rest, head_len, out, now);
  }
  return pos;
}

std::size_t HttpProtocol::scan_head(std::string_view buf, int& status) {
  std::size_t i = scanned_;
  while (true) {
    const void* found = i < buf.size() ? std::memchr(buf.data() + i, '\n', buf.size() - i) : nullptr;
    if (found == nullptr) {
      if (buf.size() - i > limits_.max_line) {
        status = i == 0 ? 414 : 431;
      } else if (buf.size() > limits_.max_head) {
        status = 431;
      }
      scanned_ = i;
      return 0;
    }
    const auto end = static_cast<std::size_t>(static_cast<const char*>(found) - buf.data());
    if (end == i || buf[end - 1] != '\r') {  // a bare LF ends no line in HTTP/1.1
      status = 400;
      return 0;
    }
    const auto len = end - 1 - i;
    if (len > limits_.max_line) {
      status = i == 0 ? 414 : 431;
      return 0;
    }
    if (end + 1 > limits_.max_head) {
      status = 431;
      return 0;
    }
    if (i != 0) {
      if (len == 0) return end + 1;           // the empty line: the head is complete
      if (buf[i] == ' ' || buf[i] == '\t') {  // obs-fold (RFC 9112 5.2)
        status = 400;
        return 0;
      }
      if (++fields_ > limits_.max_fields) {
        status = 431;
        return 0;
      }
    }
    i = end + 1;
  }
}

std::size_t HttpProtocol::parse_head(std::string_view buf, std::size_t head_len, std::string& out, const HttpNow& now) {
  // A well-formed version other than 1.x: 505 rather than 400. A higher
  // minor version of 1 is answered as HTTP/1.1 (RFC 9110 2.5), and Beast
  // parses only 1.0 and 1.1: such a head is parsed as 1.1, from a copy.
  const auto line = buf.substr(0, buf.find('\r'));
  std::string as_11;
  if (line.size() > 9 && line.substr(line.size() - 9, 6) == " HTTP/" && line[line.size() - 2] == '.' &&
      std::isdigit(static_cast<unsigned char>(line[line.size() - 3])) != 0 &&
      std::isdigit(static_cast<unsigned char>(line.back())) != 0) {
    if (line[line.size() - 3] != '1') {
      fail(505, out, now);
      return head_len;
    }
    if (line.back() > '1') {
      as_11.assign(buf.substr(0, head_len));
      as_11[line.size() - 1] = '1';
    }
  }
  const std::string_view head = as_11.empty() ? buf.substr(0, head_len) : std::string_view(as_11);
  parser_ = std::make_unique<Parser>(limits_, service_);
  error_code ec;
  const auto used = parser_->put(boost::asio::const_buffer(head.data(), head.size()), ec);
  if (ec || used != head_len || !parser_->is_header_done()) {
    fail(parser_->status != 0 ? parser_->status : status_for(ec), out, now);
    return head_len;
  }
  if (parser_->is_done()) {
    if (!try_upgrade(out)) dispatch(out, now);
    return head_len;
  }
  if (parser_->expect_continue) out.append(kContinue);
  state_ = State::Body;
  return head_len;
}

std::size_t HttpProtocol::feed_body(std::string_view buf, std::string& out, const HttpNow& now) {
  // Beast (1.74) asserts that the last chunk is seen again with at least the
  // 5 bytes of "0\r\n\r\n"; a client that sends it a byte at a time would
  // trip that in a debug build. What is left of a chunked body at its end is
  // never shorter, so waiting for 5 bytes costs nothing.
  if (parser_->chunked() && buf.size() < 5) return 0;
  error_code ec;
  const auto used = parser_->put(boost::asio::const_buffer(buf.data(), buf.size()), ec);
  if (ec == http::error::need_more) {
    if (used == 0 && buf.size() > kMaxChunkLine) fail(400, out, now);  // an endless chunk-size line
    return used;
  }
  if (ec) {
    fail(parser_->status != 0 ? parser_->status : status_for(ec), out, now);
    return buf.size();
  }
  if (parser_->is_done()) dispatch(out, now);
  return used;
}

void HttpProtocol::dispatch(std::string& out, const HttpNow& now) {
  ++requests_;
  const bool close = !parser_->keep_alive() || requests_ >= limits_.max_requests || service_.draining();
  Exchange ex;
  const auto req = parser_->request(peer_);
  auto resp = service_.handle(req, ex);
  state_ = State::Idle;
  if (resp.delay.count() > 0 || resp.deferred != nullptr) {
    const auto release = now.steady + resp.delay;
    held_ = std::make_unique<Held>(Held{std::move(parser_), req, std::move(ex), std::move(resp), close, release});
    return;
  }
  answer(*parser_, req, ex, resp, close, out, now);
  parser_.reset();
}

void HttpProtocol::release(std::string& out, const HttpNow& now) {
  if (held_ == nullptr || !held_answer_due(held_->response, held_->release, now.steady)) return;
  const auto held = std::move(held_);
  const auto resp = held_answer(held->response);
  answer(*held->parser, held->request, held->exchange, resp, held->close || service_.draining(), out, now);
  go_on(out, now);
}

void HttpProtocol::answer(Parser& parser, const HttpRequest& req, Exchange& ex, const HttpResponse& resp, bool close,
                          std::string& out, const HttpNow& now) {
  const auto before = out.size();
  const auto connection = close                  ? ConnectionHeader::Close
                          : parser.version == 10 ? ConnectionHeader::KeepAlive
                                                 : ConnectionHeader::None;
  append_response(out, resp, now.date, connection, parser.method == "HEAD" ? AnswerBody::Omit : AnswerBody::Send);
  if (parser.keep_body) {  // counted until written: the body's bytes and its answer's
    unsent_.absorb(parser.body);
    unsent_.charge(out.size() - before);
  }
  if (close) state_ = State::Closed;
  service_.finish(ex, req, resp.status);
}

void HttpProtocol::fail(int status, std::string& out, const HttpNow& now) {
  HttpRequest req{};
  req.client_ip = peer_;
  if (parser_ != nullptr && parser_->got_some()) req = parser_->request(peer_);
  Exchange ex;
  const auto resp = service_.refuse(status, req, ex);
  append_response(out, resp, now.date, ConnectionHeader::Close,
                  req.method == "HEAD" ? AnswerBody::Omit : AnswerBody::Send);
  state_ = State::Closed;
  unread_ = true;  // the client may still be sending: read it off before closing
  service_.finish(ex, req, status);
  parser_.reset();
}

}  // namespace devops::serve
