#pragma once

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the ids a
// request carries, `traceparent` read and written, and the sampler that
// decides whether a new span is recorded. No I/O; ids come from a source
// that tests replace.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace devops::serve::trace {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// Where a span stands in its trace: the trace, the span itself and whether
// it is recorded and exported (the sampled flag, sent on as such).
struct SpanContext {
  TraceId trace{};
  SpanId span{};
  bool sampled{false};
  bool valid() const;
};

// The caller's context, from `traceparent` (and `tracestate`, kept as sent
// when traceparent is valid).
struct Parent {
  SpanContext context;
  std::string_view tracestate;
};

// Reads a traceparent value: none when it is absent or invalid (a version
// of ff, an id of zeros, upper case, a wrong length). A later version is
// read from its first four fields.
std::optional<SpanContext> parse_traceparent(std::string_view value);
// "00-<trace>-<span>-01": the value sent to an upstream, `ctx.span` as the parent.
std::string format_traceparent(const SpanContext& ctx);
// Lower-case hex, as OTLP/JSON and the log lines spell ids.
std::string hex(const TraceId& id);
std::string hex(const SpanId& id);
// Into a buffer of 32 or 16 characters, without an allocation.
void hex_into(const TraceId& id, char* out);
void hex_into(const SpanId& id, char* out);

// Random ids from the kernel's CSPRNG (getrandom), drawn in blocks per
// thread; never all zeros.
TraceId new_trace_id();
SpanId new_span_id();
// Replaces the source of ids on this thread (tests: fixed ids); null restores it.
using IdSource = void (*)(std::uint8_t* out, std::size_t n);
void set_id_source(IdSource source);

// OTEL_TRACES_SAMPLER and its argument.
struct Sampler {
  enum class Kind { AlwaysOn, AlwaysOff, TraceIdRatio };
  Kind root{Kind::AlwaysOn};  // for a trace that begins here
  double ratio{1.0};          // TraceIdRatio: the fraction of trace ids kept
  bool parent_based{true};    // a caller's decision wins when there is one
  // Whether a span of `trace` is recorded: its parent's flag when there is
  // one and the sampler follows parents, the root's rule otherwise.
  bool sample(const TraceId& trace, const std::optional<SpanContext>& parent) const;
};
// Reads OTEL_TRACES_SAMPLER's value ("" is the default,
// parentbased_always_on) and OTEL_TRACES_SAMPLER_ARG's; none (with `why`)
// for a name it does not know or a ratio outside [0, 1].
std::optional<Sampler> parse_sampler(std::string_view name, std::string_view arg, std::string& why);

}  // namespace devops::serve::trace
