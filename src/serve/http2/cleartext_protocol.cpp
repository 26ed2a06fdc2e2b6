#include "serve/http2/cleartext_protocol.hpp"

namespace devops::serve {

CleartextProtocol::CleartextProtocol(const HttpLimits& limits, HttpService& service, std::string peer)
    : limits_(limits), service_(service), peer_(peer), h1_(limits, service, std::move(peer)) {
  h1_.offer_h2c(true);
}

void CleartextProtocol::receive(std::string_view data, std::string& out, const HttpNow& now) {
  if (h2_) {
    h2_->receive(data, out, now);
    return;
  }
  if (deciding_) {
    if (first_.empty()) first_at_ = now.steady;
    const auto have = first_.size();
    const auto take = std::min(data.size(), kHttp2Preface.size() - have);
    if (kHttp2Preface.substr(have, take) == data.substr(0, take)) {
      if (have + take < kHttp2Preface.size()) {
        first_.append(data);  // a prefix of the preface, so far: wait for more
        return;
      }
      first_.append(data);
      to_http2(out, now);
      h2_->receive(first_, out, now);  // the preface too: nghttp2 reads it itself
      first_.clear();
      first_.shrink_to_fit();
      return;
    }
    deciding_ = false;
    if (!first_.empty()) {
      first_.append(data);
      const std::string all = std::move(first_);
      first_.clear();
      h1_.receive(all, out, now);
      after_http1(out, now);
      return;
    }
  }
  h1_.receive(data, out, now);
  after_http1(out, now);
}

void CleartextProtocol::to_http2(std::string&, const HttpNow& now) {
  deciding_ = false;
  h2_ = std::make_unique<Http2Protocol>(limits_, service_, peer_, now);
}

void CleartextProtocol::after_http1(std::string& out, const HttpNow& now) {
  if (!h1_.upgraded()) return;
  const auto up = h1_.take_upgrade();
  to_http2(out, now);
  h2_->upgrade(up, out, now);
}

void CleartextProtocol::resume(std::string& out, const HttpNow& now) {
  if (h2_) {
    h2_->resume(out, now);
    return;
  }
  h1_.resume(out, now);
  after_http1(out, now);
}

void CleartextProtocol::release(std::string& out, const HttpNow& now) {
  if (h2_) {
    h2_->release(out, now);
    return;
  }
  h1_.release(out, now);
  after_http1(out, now);
}

bool CleartextProtocol::drain(std::string& out, const HttpNow& now) {
  return h2_ ? h2_->drain(out, now) : h1_.drain(out, now);
}

void CleartextProtocol::notify(std::string& out, const HttpNow& now) {
  if (h2_) h2_->notify(out, now);
}

ProtoState CleartextProtocol::state(std::size_t queued_output) const {
  if (h2_) return h2_->state(queued_output);
  if (deciding_ && !first_.empty()) {
    ProtoState s;
    s.wants_input = true;
    s.mid_request = true;  // under the request deadline: a trickled preface is cut off like a trickled head
    s.request_started = first_at_;
    return s;
  }
  return h1_.state(queued_output);
}

}  // namespace devops::serve
