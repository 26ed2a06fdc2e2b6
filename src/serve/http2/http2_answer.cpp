// HTTP/2 answers: a response submitted to nghttp2 (headers, DATA, gRPC
// trailers or trailers-only), held answers released, Watches asked again,
// and the drain.
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include "serve/http/deferred.hpp"
#include "serve/http2/grpc_wire.hpp"
#include "serve/http2/http2_stream.hpp"

namespace devops::serve {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

std::atomic<std::size_t>& open_watches() {
  static std::atomic<std::size_t> count{0};
  return count;
}

std::size_t Http2Protocol::watches_open() {
  return open_watches().load(std::memory_order_relaxed);
}

// The ssize_t API: it is in both nghttp2 1.52 and 1.64 (where the
// nghttp2_ssize one was added beside it).
ssize_t read_answer_data(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                         std::uint32_t* flags, nghttp2_data_source* src, void*) {
  auto& s = *static_cast<Http2Protocol::Stream*>(src->ptr);
  const auto n = std::min(length, s.out.size() - s.out_pos);
  std::copy_n(s.out.data() + s.out_pos, n, buf);
  s.out_pos += n;
  if (s.out_pos == s.out.size()) {
    s.out.clear();
    s.out_pos = 0;
    if (s.watching && !s.ending) return n == 0 ? ssize_t{NGHTTP2_ERR_DEFERRED} : static_cast<ssize_t>(n);
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    s.sending = false;
    if (s.grpc) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const auto status = std::to_string(s.end.status);
      const auto message = grpc::percent_encode(s.end.message);
      std::array<nghttp2_nv, 2> trailers{field("grpc-status", status), field("grpc-message", message)};
      nghttp2_submit_trailer(session, id, trailers.data(), s.end.message.empty() ? 1 : 2);
    }
  }
  return static_cast<ssize_t>(n);
}

void Http2Protocol::answer(Stream& s, const HttpResponse& resp) {
  // A kept body's answer counts with it until the stream closes (all given to nghttp2).
  if (s.body_limit) s.kept.charge(resp.body.size());
  submit(s, resp);
  const auto req = s.request(peer_);
  service_.finish(s.exchange, req, resp.status);
  if (!draining_ && service_.draining()) {
    // Shutdown has begun: as Connection: close over HTTP/1.1.
    draining_ = true;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_.get()),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }
}

void Http2Protocol::submit(Stream& s, const HttpResponse& answer) {
  // A call left open takes one of the process's places for them, or ends at once.
  HttpResponse refused;
  const HttpResponse* chosen = &answer;
  if (s.grpc && answer.open_stream) {
    if (open_watches().fetch_add(1, std::memory_order_relaxed) < limits_.max_watches) {
      s.counted = true;
    } else {
      open_watches().fetch_sub(1, std::memory_order_relaxed);
      refused.grpc = {grpc::kResourceExhausted,
                      "too many Watch calls open: " + std::to_string(limits_.max_watches) + " at most"};
      chosen = &refused;
    }
  }
  const HttpResponse& resp = *chosen;
  std::vector<nghttp2_nv> nva;
  nva.reserve(12);
  std::array<char, 4> status{};
  const auto st = std::to_chars(status.data(), status.data() + status.size(), resp.status);
  const std::string_view status_text(status.data(), static_cast<std::size_t>(st.ptr - status.data()));
  nva.push_back(field(":status", status_text));
  std::string length;
  std::string grpc_status;
  std::string grpc_message;
  std::vector<std::string> names;  // lower-cased names of the extra header lines
  nghttp2_data_provider provider{};
  provider.source.ptr = &s;
  provider.read_callback = &read_answer_data;
  bool body = false;
  if (s.grpc) {
    nva.push_back(field("content-type", "application/grpc"));
    if (resp.grpc.status == grpc::kUnimplemented) nva.push_back(field("grpc-accept-encoding", "identity"));
    s.watching = resp.open_stream;
    s.end = resp.grpc;
    s.ending = !resp.open_stream;
    if (!resp.body.empty() || resp.open_stream) {
      grpc::append_framed(s.out, resp.body);
      s.last_message = resp.body;
      body = true;
    } else {  // trailers-only
      grpc_status = std::to_string(resp.grpc.status);
      grpc_message = grpc::percent_encode(resp.grpc.message);
      nva.push_back(field("grpc-status", grpc_status));
      if (!grpc_message.empty()) nva.push_back(field("grpc-message", grpc_message));
    }
  } else {
    // 204 and 304 have no content, so neither a type nor a length (RFC 9110 8.6, 15.3.5).
    const bool content = resp.status != 204 && resp.status != 304;
    if (content && !resp.content_type.empty()) nva.push_back(field("content-type", resp.content_type));
    length = std::to_string(resp.body.size());
    if (content) nva.push_back(field("content-length", length));
    if (now_ != nullptr && !now_->date.empty()) nva.push_back(field("date", now_->date));
    nva.push_back(field("x-content-type-options", "nosniff"));
    nva.push_back(field("cache-control", "no-store"));
    if (!resp.allow.empty()) nva.push_back(field("allow", resp.allow));
    // More header lines ("Name: value\r\n"), lower-cased for HTTP/2.
    std::string_view rest = resp.headers;
    std::vector<std::pair<std::size_t, std::string_view>> values;
    while (!rest.empty()) {
      const auto eol = rest.find("\r\n");
      const auto line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      names.push_back(lower(line.substr(0, colon)));
      values.emplace_back(names.size() - 1, value);
    }
    for (const auto& [i, value] : values) nva.push_back(field(names[i], value));
    if (s.method != "HEAD" && !resp.body.empty()) {
      s.out = resp.body;
      body = true;
    }
  }
  s.sending = body;
  nghttp2_submit_response(session_.get(), s.id, nva.data(), nva.size(), body ? &provider : nullptr);
}

void Http2Protocol::release(std::string& out, const HttpNow& now) {
  now_ = &now;
  std::vector<Stream*> due;
  for (const auto& [id, s] : streams_) {
    if (s->held && held_answer_due(s->held_response, s->release, now.steady)) due.push_back(s.get());
  }
  for (Stream* s : due) {
    s->held = false;
    const auto resp = held_answer(s->held_response);
    answer(*s, resp);
  }
  resume(out, now);
}

void Http2Protocol::refresh(Stream& s) {
  const auto req = s.request(peer_);
  auto next = service_.follow(req);
  if (next.body != s.last_message) {
    // Only the latest status matters: one not yet taken (a client that
    // keeps its window shut) is replaced, so the queue stays one message.
    if (s.out_pos == 0) s.out.clear();
    grpc::append_framed(s.out, next.body);
    s.last_message = next.body;
  }
  if (!next.open_stream) {
    s.ending = true;
    s.end = next.grpc;
  }
  nghttp2_session_resume_data(session_.get(), s.id);  // INVALID_ARGUMENT: it was not paused
}

void Http2Protocol::notify(std::string& out, const HttpNow& now) {
  now_ = &now;
  const auto changes = service_.changes();
  if (changes == seen_changes_ || dead_) return;
  seen_changes_ = changes;
  for (const auto& [id, s] : streams_) {
    if (s->watching && !s->ending) refresh(*s);
  }
  flush(out);
}

bool Http2Protocol::drain(std::string& out, const HttpNow& now) {
  now_ = &now;
  if (dead_) return true;
  if (!draining_) {
    draining_ = true;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_.get()),
                          NGHTTP2_NO_ERROR, nullptr, 0);
  }
  // Open Watches say their last (the service is draining: NOT_SERVING) and end.
  for (const auto& [id, s] : streams_) {
    if (s->watching && !s->ending) refresh(*s);
  }
  // Requests still arriving are not answered: they began before the drain
  // but would hold it. Those answered or held finish.
  std::vector<std::int32_t> incomplete;
  for (const auto& [id, s] : streams_) {
    if (!s->dispatched) incomplete.push_back(id);
  }
  for (const auto id : incomplete)
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
  flush(out);
  return false;
}

}  // namespace devops::serve
