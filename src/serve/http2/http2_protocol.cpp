#include "serve/http2/http2_protocol.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "serve/http2/grpc_wire.hpp"
#include "serve/http2/http2_stream.hpp"

namespace devops::serve {

namespace {

// HPACK's cost of one field (RFC 7541 4.1), as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
constexpr std::size_t kFieldOverhead = 32;
// A gRPC request message larger than this is refused (RESOURCE_EXHAUSTED):
// a health request is a service name.
constexpr std::size_t kMaxGrpcRequest = 4096;

}  // namespace

struct Http2Protocol::Callbacks {
  static Http2Protocol& self(void* p) { return *static_cast<Http2Protocol*>(p); }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* f, void* p) {
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    self(p).open_stream(f->hd.stream_id);
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* n, std::size_t nlen,
                    const std::uint8_t* v, std::size_t vlen, std::uint8_t, void* p) {
    auto& h = self(p);
    Stream* s = h.stream(f->hd.stream_id);
    if (s == nullptr || s->dispatched) return 0;  // trailers of a request already answered
    s->head_bytes += nlen + vlen + kFieldOverhead;
    ++s->fields;
    if (s->head_bytes > h.limits_.max_head || s->fields > h.limits_.max_fields) {
      s->refused = 431;  // the rest of the list is decoded (HPACK's state) but not kept
      return 0;
    }
    if (s->refused != 0) return 0;
    const std::string_view name(reinterpret_cast<const char*>(n), nlen);
    const std::string_view value(reinterpret_cast<const char*>(v), vlen);
    if (s->want_fields && !name.starts_with(':')) s->kept_fields.emplace_back(name, value);
    if (name == ":method") {
      s->method = value;
    } else if (name == ":path") {
      s->target = value;
      // Pseudo-headers come first (RFC 9113 8.3): the path is known before
      // any field or byte of the body to keep.
      s->path_ok = decode_target_path(s->target, s->path);
      if (s->path_ok) {
        const auto needs = h.service_.needs(s->path);
        s->want_fields = needs.fields;
        s->body_limit = needs.body;
      }
    } else if (name == "user-agent") {
      if (s->user_agent.empty()) s->user_agent = value;
    } else if (name == "accept") {
      if (!s->accept.empty()) s->accept.append(", ");
      s->accept.append(value);
    } else if (name == "content-type") {
      s->content_type = value;
    } else if (name == "content-length") {
      // A body announced over the limit is refused before a byte of it
      // arrives (nghttp2 has checked that the value is a number).
      std::uint64_t length = 0;
      std::from_chars(value.data(), value.data() + value.size(), length);
      if (length > s->body_limit.value_or(h.limits_.max_body)) {
        s->refused = 413;
      } else if (s->body_limit && !s->kept.reserve(length, h.limits_.max_kept_bodies)) {
        s->refused = 503;
      }
    } else if (name == "grpc-encoding") {
      s->grpc_encoding = value;
    } else if (name == "traceparent") {
      keep_traceparent(s->traceparent, value);
    } else if (name == "tracestate") {
      keep_tracestate(s->tracestate, value);
    } else if (name == "x-forwarded-for" || name == "forwarded") {
      auto& to = name == "forwarded" ? s->forwarded : s->forwarded_for;
      if (!to.empty()) to.append(", ");
      to.append(value);
    }
    return 0;
  }

  static int data_chunk(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t len,
                        void* p) {
    auto& h = self(p);
    Stream* s = h.stream(id);
    if (s == nullptr || s->dispatched) return 0;
    s->body_bytes += len;
    if (s->body_bytes > s->body_limit.value_or(h.limits_.max_body)) {
      if (s->refused == 0) s->refused = 413;
      return 0;
    }
    if (s->body_limit) {  // a route that takes its body
      const std::string_view chunk(reinterpret_cast<const char*>(d), len);
      if (s->refused == 0 && !s->kept.append(chunk, h.limits_.max_kept_bodies)) s->refused = 503;
      return 0;
    }
    // Only a gRPC call's message is kept; other bodies are read and dropped, as over HTTP/1.1.
    if (s->refused == 0 && grpc::is_grpc_content_type(s->content_type) && s->body.size() + len <= kMaxGrpcRequest + 5) {
      s->body.append(reinterpret_cast<const char*>(d), len);
    }
    return 0;
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* f, void* p) {
    auto& h = self(p);
    switch (f->hd.type) {
      case NGHTTP2_HEADERS:
      case NGHTTP2_DATA: {
        Stream* s = h.stream(f->hd.stream_id);
        if (f->hd.type == NGHTTP2_DATA && f->hd.length == 0 && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
          if (!h.glitch()) return 0;
        }
        if (s == nullptr || s->dispatched) break;
        s->remote_done = (f->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
        // At the end of the request, or at once for a body over the limit: the rest is not wanted.
        if (s->refused == 413 || s->refused == 503 || s->remote_done) h.dispatch(*s);
        break;
      }
      case NGHTTP2_PING:
      case NGHTTP2_SETTINGS:  // the ACKs answer ours: free
        if ((f->hd.flags & NGHTTP2_FLAG_ACK) == 0) h.glitch();
        break;
      case NGHTTP2_RST_STREAM:
      case NGHTTP2_PRIORITY: h.glitch(); break;
      default: break;
    }
    return 0;
  }

  static int frame_send(nghttp2_session* session, const nghttp2_frame* f, void* p) {
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || (f->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    Stream* s = self(p).stream(f->hd.stream_id);
    if (s != nullptr && s->reset_after) {
      s->reset_after = false;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* p) {
    auto& h = self(p);
    const auto it = h.streams_.find(id);
    if (it == h.streams_.end()) return 0;
    // A stream that ends before its answer is complete: the client gave up
    // on it, or it broke the protocol. Its exchange, if held, is abandoned.
    if (error != NGHTTP2_NO_ERROR && (it->second->sending || !it->second->dispatched || it->second->held)) {
      h.glitch();
    }
    h.streams_.erase(it);
    return 0;
  }

  // A stream's DATA: what its `out` holds; then the end of the stream, or
  // its trailers, or (a Watch with nothing new) a pause until resumed.
  // The ssize_t API: it is in both nghttp2 1.52 and 1.64 (where the
  // nghttp2_ssize one was added beside it).
};

void Http2Protocol::SessionDeleter::operator()(nghttp2_session* s) const {
  nghttp2_session_del(s);
}

Http2Protocol::Http2Protocol(const HttpLimits& limits, HttpService& service, std::string peer, const HttpNow& now)
    : limits_(limits), service_(service), peer_(std::move(peer)), budget_at_(now.steady) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, &Callbacks::header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Callbacks::stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Callbacks::frame_send);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Closed streams are not kept for the priority tree (RFC 9113 drops it).
  nghttp2_option_set_no_closed_streams(opt, 1);
  nghttp2_session* s = nullptr;
  const int rv = nghttp2_session_server_new2(&s, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) throw std::bad_alloc();
  session_.reset(s);
  const std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<std::uint32_t>(limits_.max_streams)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(limits_.max_head)},
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  }};
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  seen_changes_ = service_.changes();
}

Http2Protocol::~Http2Protocol() {
  streams_.clear();  // before the session: a held exchange is abandoned, not answered
}

Http2Protocol::Stream* Http2Protocol::stream(std::int32_t id) const {
  const auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Http2Protocol::Stream& Http2Protocol::open_stream(std::int32_t id) {
  auto s = std::make_unique<Stream>();
  s->id = id;
  s->started = now_ != nullptr ? now_->steady : SteadyClock::now();
  auto& ref = *s;
  streams_[id] = std::move(s);
  return ref;
}

bool Http2Protocol::upgrade(const HttpProtocol::Upgrade& u, std::string& out, const HttpNow& now) {
  now_ = &now;
  const int head = u.method == "HEAD" ? 1 : 0;
  if (nghttp2_session_upgrade2(session_.get(), reinterpret_cast<const std::uint8_t*>(u.settings.data()),
                               u.settings.size(), head, nullptr) != 0) {
    dead_ = true;
    return false;
  }
  Stream& s = open_stream(1);
  s.method = u.method;
  s.target = u.target;
  s.user_agent = u.user_agent;
  s.accept = u.accept;
  dispatch(s);
  if (!u.rest.empty()) feed(u.rest);
  flush(out);
  return !dead_;
}

void Http2Protocol::receive(std::string_view data, std::string& out, const HttpNow& now) {
  now_ = &now;
  if (dead_) {
    unread_ = unread_ || !data.empty();
    return;
  }
  if (!pending_.empty() || out.size() >= limits_.max_output) {
    pending_.append(data);  // bounded: the engine stops reading while output is backed up
  } else {
    feed(data);
  }
  flush(out);
}

void Http2Protocol::resume(std::string& out, const HttpNow& now) {
  now_ = &now;
  if (!pending_.empty() && out.size() < limits_.max_output && !dead_) {
    const std::string rest = std::move(pending_);
    pending_.clear();
    feed(rest);
  }
  flush(out);
}

void Http2Protocol::feed(std::string_view data) {
  const auto rv =
      nghttp2_session_mem_recv(session_.get(), reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  // A negative value is fatal (a flood of ACKs to queue, too many
  // CONTINUATIONs, no memory): the session cannot go on, nor say more.
  if (rv < 0) fail();
}

void Http2Protocol::flush(std::string& out) {
  if (dead_) return;
  while (out.size() < limits_.max_output) {
    const std::uint8_t* data = nullptr;
    const auto n = nghttp2_session_mem_send(session_.get(), &data);
    if (n < 0) {
      fail();
      return;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
}

void Http2Protocol::fail() {
  dead_ = true;
  streams_.clear();
}

bool Http2Protocol::glitch() {
  ++counters_.glitches;
  if (now_ != nullptr) {
    const std::chrono::duration<double> dt = now_->steady - budget_at_;
    budget_ = std::min(kGlitchBurst, budget_ + std::max(0.0, dt.count()) * kGlitchesPerSecond);
    budget_at_ = now_->steady;
  }
  budget_ -= 1;
  if (budget_ >= 0 || counters_.calmed) return !counters_.calmed;
  counters_.calmed = true;
  nghttp2_session_terminate_session(session_.get(), NGHTTP2_ENHANCE_YOUR_CALM);
  return false;
}

void Http2Protocol::dispatch(Stream& s) {
  s.dispatched = true;
  const auto now = now_ != nullptr ? now_->steady : SteadyClock::now();
  HttpResponse resp;
  if (s.refused == 0 && !s.path_ok && !decode_target_path(s.target, s.path)) s.refused = 400;
  for (const auto& [n, v] : s.kept_fields) s.field_views.push_back({n, v});
  s.grpc = s.refused == 0 && s.method == "POST" && grpc::is_grpc_content_type(s.content_type);
  auto req = s.request(peer_);
  if (s.refused != 0) {
    resp = service_.refuse(s.refused, req, s.exchange);
    resp.status = s.refused;
    // The client may still be sending (a body over the limit): once the
    // answer is out, RST_STREAM NO_ERROR tells it to stop (RFC 9113 8.1).
    s.reset_after = !s.remote_done;
    answer(s, resp);
    glitch();
    return;
  }
  if (s.grpc) {
    std::string_view message;
    const auto framing = grpc::unframe(s.body, message);
    GrpcEnd bad;
    if (framing == grpc::Unframe::Compressed) {
      // We accept no encoding: one named is unimplemented, none named is a broken client.
      bad = s.grpc_encoding.empty() || s.grpc_encoding == "identity"
                ? GrpcEnd{grpc::kInternal, "compressed message without grpc-encoding"}
                : GrpcEnd{grpc::kUnimplemented, "grpc-encoding " + s.grpc_encoding + " is not supported"};
    } else if (s.body.size() > kMaxGrpcRequest) {
      bad = {grpc::kResourceExhausted, "request message over 4096 bytes"};
    } else if (framing != grpc::Unframe::Ok) {
      bad = {grpc::kInternal, "expected one request message"};
    }
    if (bad.status != 0) {
      resp = service_.refuse(400, req, s.exchange);
      resp = HttpResponse{};
      resp.grpc = std::move(bad);
      answer(s, resp);
      return;
    }
    req.body = message;
  }
  resp = service_.handle(req, s.exchange);
  if (resp.delay.count() > 0 || resp.deferred != nullptr) {
    s.held = true;
    s.release = now + resp.delay;
    s.held_response = std::move(resp);
    return;
  }
  answer(s, resp);
}

ProtoState Http2Protocol::state(std::size_t queued_output) const {
  ProtoState st;
  nghttp2_session* s = session_.get();
  const bool want_read = !dead_ && nghttp2_session_want_read(s) != 0;
  const bool want_write = !dead_ && nghttp2_session_want_write(s) != 0;
  st.closing = dead_ || (!want_read && !want_write);
  st.unread_input = unread_;
  st.wants_input = want_read && queued_output < limits_.max_output && pending_.size() < limits_.max_output;
  st.release_at = SteadyClock::time_point::max();
  st.request_started = SteadyClock::time_point::max();
  bool sending = false;
  for (const auto& [id, stream] : streams_) {
    if (stream->held) {
      st.holding = true;
      st.release_at = std::min(st.release_at, stream->release);
    }
    if (!stream->dispatched) {
      st.mid_request = true;
      st.request_started = std::min(st.request_started, stream->started);
    }
    st.streaming = st.streaming || (stream->watching && !stream->ending);
    sending = sending || (stream->sending && !(stream->watching && stream->out.empty()));
  }
  st.idle = streams_.empty() && pending_.empty() && !want_write;
  st.stalled = sending && !want_write && queued_output == 0;
  return st;
}

}  // namespace devops::serve
