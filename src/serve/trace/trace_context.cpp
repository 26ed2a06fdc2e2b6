#include "serve/trace/trace_context.hpp"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>

namespace devops::serve::trace {

namespace {

constexpr char kHex[] = "0123456789abcdef";

bool all_zero(const std::uint8_t* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid too
}

// `text` is 2*n lower-case hex digits.
bool read_hex(std::string_view text, std::uint8_t* out, std::size_t n) {
  if (text.size() != 2 * n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

void write_hex(const std::uint8_t* p, std::size_t n, char* out) {
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 0x0f];
  }
}

thread_local IdSource tl_source = nullptr;

// xoshiro256++ (Blackman and Vigna), one per thread, seeded from getrandom:
// ids must be unpredictable enough that two services never draw the same,
// not secret, and a request then costs no system call and no kernel
// ChaCha (getrandom was 0.7 % of the server's CPU under /health load).
class IdGenerator {
 public:
  IdGenerator() {
    std::size_t got = 0;
    auto* bytes = reinterpret_cast<std::uint8_t*>(s_.data());
    while (got < sizeof s_) {
      const auto r = ::getrandom(bytes + got, sizeof s_ - got, 0);
      if (r > 0) got += static_cast<std::size_t>(r);
    }
    if (all_zero(bytes, sizeof s_)) s_[0] = 1;  // the one state xoshiro cannot leave
  }
  std::uint64_t next() {
    const std::uint64_t result = std::rotl(s_[0] + s_[3], 23) + s_[0];
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  std::array<std::uint64_t, 4> s_{};
};

void random_bytes(std::uint8_t* out, std::size_t n) {
  if (tl_source != nullptr) {
    tl_source(out, n);
    return;
  }
  thread_local IdGenerator gen;
  for (std::size_t i = 0; i < n; i += 8) {
    const std::uint64_t v = gen.next();
    std::memcpy(out + i, &v, std::min<std::size_t>(8, n - i));
  }
}

}  // namespace

bool SpanContext::valid() const {
  return !all_zero(trace.data(), trace.size()) && !all_zero(span.data(), span.size());
}

std::optional<SpanContext> parse_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55.
  constexpr std::size_t kLen = 55;
  if (v.size() < kLen || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  std::uint8_t version = 0;
  std::uint8_t flags = 0;
  if (!read_hex(v.substr(0, 2), &version, 1) || version == 0xff) return std::nullopt;
  // Version 00 is exactly 55 characters; a later one may add fields after a '-'.
  if (version == 0 ? v.size() != kLen : (v.size() > kLen && v[kLen] != '-')) return std::nullopt;
  SpanContext ctx;
  if (!read_hex(v.substr(3, 32), ctx.trace.data(), 16) || !read_hex(v.substr(36, 16), ctx.span.data(), 8) ||
      !read_hex(v.substr(53, 2), &flags, 1) || !ctx.valid()) {
    return std::nullopt;
  }
  ctx.sampled = (flags & 0x01) != 0;
  return ctx;
}

std::string format_traceparent(const SpanContext& ctx) {
  std::string s(55, '-');
  s[0] = s[1] = '0';
  hex_into(ctx.trace, s.data() + 3);
  hex_into(ctx.span, s.data() + 36);
  s[53] = '0';
  s[54] = ctx.sampled ? '1' : '0';
  return s;
}

void hex_into(const TraceId& id, char* out) {
  write_hex(id.data(), id.size(), out);
}
void hex_into(const SpanId& id, char* out) {
  write_hex(id.data(), id.size(), out);
}
std::string hex(const TraceId& id) {
  std::string s(32, '0');
  hex_into(id, s.data());
  return s;
}
std::string hex(const SpanId& id) {
  std::string s(16, '0');
  hex_into(id, s.data());
  return s;
}

TraceId new_trace_id() {
  TraceId id{};
  do random_bytes(id.data(), id.size());
  while (all_zero(id.data(), id.size()));
  return id;
}

SpanId new_span_id() {
  SpanId id{};
  do random_bytes(id.data(), id.size());
  while (all_zero(id.data(), id.size()));
  return id;
}

void set_id_source(IdSource source) {
  tl_source = source;
}

bool Sampler::sample(const TraceId& trace, const std::optional<SpanContext>& parent) const {
  if (parent_based && parent) return parent->sampled;
  switch (root) {
    case Kind::AlwaysOn: return true;
    case Kind::AlwaysOff: return false;
    case Kind::TraceIdRatio: break;
  }
  // The spec's rule: the trace id's last 8 bytes, as a number, below ratio * 2^64
  // (so that every service of a trace decides alike).
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = (low << 8) | trace[i];
  if (ratio >= 1.0) return true;
  if (ratio <= 0.0) return false;
  return static_cast<double>(low) < ratio * 18446744073709551616.0;
}

std::optional<Sampler> parse_sampler(std::string_view name, std::string_view arg, std::string& why) {
  Sampler s;
  std::string_view root = name.empty() ? "parentbased_always_on" : name;
  s.parent_based = root.starts_with("parentbased_");
  if (s.parent_based) root.remove_prefix(std::string_view("parentbased_").size());
  if (root == "always_on") {
    s.root = Sampler::Kind::AlwaysOn;
  } else if (root == "always_off") {
    s.root = Sampler::Kind::AlwaysOff;
  } else if (root == "traceidratio") {
    s.root = Sampler::Kind::TraceIdRatio;
    s.ratio = 1.0;
    if (!arg.empty()) {
      double r = -1;
      const auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), r);
      if (ec != std::errc{} || p != arg.data() + arg.size() || r < 0.0 || r > 1.0) {
        why = "OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, not '" + std::string(arg) + "'";
        return std::nullopt;
      }
      s.ratio = r;
    }
  } else {
    why = "OTEL_TRACES_SAMPLER '" + std::string(name) +
          "' is not one of always_on, always_off, traceidratio, parentbased_always_on, "
          "parentbased_always_off, parentbased_traceidratio";
    return std::nullopt;
  }
  return s;
}

}  // namespace devops::serve::trace
