#include "serve/http1/response_reader.hpp"

// Boost 1.74's Asio headers miss this include under C++20 with GCC 12.
#include <utility>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

namespace devops::serve {

namespace http = boost::beast::http;
using boost::beast::error_code;
using BeastView = boost::beast::string_view;

struct ResponseReader::Parser final : http::basic_parser<false> {
  int status{0};
  std::size_t fields{0};
  std::string content_type;
  std::string location;
  std::string body;
  std::string why;

  Parser(std::size_t max_body, bool head_request) {
    header_limit(static_cast<std::uint32_t>(kMaxHead));
    body_limit(max_body);
    eager(true);
    skip(head_request);
  }

 private:
  void on_request_impl(http::verb, BeastView, BeastView, int, error_code&) override {}
  void on_response_impl(int code, BeastView, int, error_code&) override { status = code; }
  void on_field_impl(http::field f, BeastView, BeastView v, error_code& ec) override {
    if (++fields > kMaxFields) {
      why = "more than 100 header fields";
      ec = http::error::header_limit;
      return;
    }
    if (f == http::field::content_type) content_type.assign(v.data(), v.size());
    if (f == http::field::location) location.assign(v.data(), v.size());
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) body.reserve(static_cast<std::size_t>(*length));  // within body_limit: Beast checked it
  }
  std::size_t on_body_impl(BeastView b, error_code&) override {
    body.append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, BeastView, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, BeastView b, error_code&) override {
    body.append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(error_code&) override {}
};

ResponseReader::ResponseReader(std::size_t max_body, bool head_request)
    : parser_(std::make_unique<Parser>(max_body, head_request)), max_body_(max_body), head_request_(head_request) {}
ResponseReader::~ResponseReader() = default;

ResponseReader::Progress ResponseReader::put(std::string_view data) {
  while (true) {
    error_code ec;
    const auto used = parser_->put(boost::asio::const_buffer(data.data(), data.size()), ec);
    if (ec == http::error::need_more) {
      pending_.assign(data.substr(used));
      return Progress::More;
    }
    if (ec == http::error::body_limit) return Progress::TooLarge;
    if (ec) {
      if (parser_->why.empty()) {
        parser_->why =
            ec == http::error::header_limit ? "a head over 16 KiB" : "not an HTTP/1.x answer (" + ec.message() + ")";
      }
      return Progress::Bad;
    }
    data.remove_prefix(used);
    if (!parser_->is_done()) {
      pending_.assign(data);
      return Progress::More;
    }
    // An interim answer (100 Continue, 103 Early Hints): the real one follows.
    if (parser_->status >= 100 && parser_->status < 200 && parser_->status != 101) {
      parser_ = std::make_unique<Parser>(max_body_, head_request_);
      continue;
    }
    pending_.clear();
    return Progress::Done;
  }
}

ResponseReader::Progress ResponseReader::feed(std::string_view data) {
  if (progress_ != Progress::More) return progress_;
  if (pending_.empty()) {
    progress_ = put(data);
  } else {
    pending_.append(data);
    const std::string buffered = std::move(pending_);
    pending_.clear();
    progress_ = put(buffered);
  }
  return progress_;
}

ResponseReader::Progress ResponseReader::finish() {
  if (progress_ != Progress::More) return progress_;
  error_code ec;
  if (!pending_.empty()) {
    progress_ = feed({});
    if (progress_ != Progress::More) return progress_;
  }
  if (parser_->got_some()) {  // (Beast asserts that it has seen something)
    parser_->put_eof(ec);
    if (!ec && parser_->is_done()) return progress_ = Progress::Done;
  }
  parser_->why =
      parser_->got_some() || !pending_.empty() ? "the answer ended early" : "the connection closed without an answer";
  return progress_ = Progress::Bad;
}

int ResponseReader::status() const {
  return parser_->status;
}
const std::string& ResponseReader::content_type() const {
  return parser_->content_type;
}
const std::string& ResponseReader::location() const {
  return parser_->location;
}
const std::string& ResponseReader::body() const {
  return parser_->body;
}
bool ResponseReader::keep_alive() const {
  return parser_->is_header_done() && parser_->keep_alive();
}
const std::string& ResponseReader::why() const {
  return parser_->why;
}

}  // namespace devops::serve
