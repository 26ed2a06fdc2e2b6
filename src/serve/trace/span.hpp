#pragma once

// A finished span, as the exporter sends it, and the resource that every
// span of this process shares; and their OTLP/HTTP JSON encoding
// (opentelemetry-proto's ExportTraceServiceRequest, as OTLP/JSON spells it:
// ids in hex, 64-bit numbers as strings, enums as numbers).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "serve/trace/trace_context.hpp"

namespace devops::serve::trace {

enum class SpanKind : int { Server = 2, Client = 3 };

struct Attribute {
  std::string_view key;  // one of the semantic conventions' names: static text
  std::variant<std::string, std::int64_t> value;
};

struct Span {
  SpanContext context;  // its trace and its own id
  SpanId parent{};      // all zeros: a root span
  std::string name;     // "GET /health": the method and the route
  SpanKind kind{SpanKind::Server};
  std::uint64_t start_unix_ns{0};
  std::uint64_t end_unix_ns{0};
  bool error{false};  // status ERROR (a server span's 5xx, a client span's failure)
  std::string status_message;
  std::vector<Attribute> attributes;
};

// service.name, service.version and OTEL_RESOURCE_ATTRIBUTES' pairs, in order.
using Resource = std::vector<std::pair<std::string, std::string>>;

// Reads OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values percent-decoded); a
// pair without '=' or with an empty key is skipped.
Resource parse_resource_attributes(std::string_view text);
// The resource: `service_name` (OTEL_SERVICE_NAME, or service.name from the
// attributes, or "devops-info"), `version`, then the other attributes.
Resource make_resource(std::string_view service_name, std::string_view version, std::string_view attributes);

// One export request's body. Text that is not valid UTF-8 (a path, a user
// agent) is replaced, not sent: one bad byte would make the collector refuse
// the whole batch.
std::string encode_otlp_json(const Resource& resource, std::span<const Span> spans, std::string_view scope_version);

}  // namespace devops::serve::trace
