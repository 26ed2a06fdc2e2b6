#pragma once

// Tracing as the OpenTelemetry environment variables configure it: the
// sampler, the resource, the batch processor and the OTLP/HTTP JSON
// exporter that posts to the collector.

#include <memory>
#include <string>
#include <vector>

#include "core/config_values.hpp"
#include "serve/trace/span_exporter.hpp"
#include "serve/trace/trace_context.hpp"

namespace devops::serve {

struct Tracing {
  trace::Sampler sampler;
  std::unique_ptr<trace::SpanExporter> exporter;  // none: spans are not recorded
  std::string endpoint;                           // where spans go, for the log
  std::string service_name;                       // the resource's service.name
  std::vector<std::string> warnings;              // settings ignored, and why
};

// Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG) and
// OTEL_BSP_*. Spans are exported when an endpoint is set (or
// OTEL_TRACES_EXPORTER=otlp asks for the default, http://localhost:4318).
// A value it cannot use is a warning and the default, never a failure:
// tracing must not keep the service from starting.
Tracing setup_tracing(const core::EnvLookup& env, const std::string& version, trace::ExportStats& stats);

// OTEL_EXPORTER_OTLP_HEADERS ("k1=v1,k2=v2", values percent-encoded) as
// HTTP header lines; a pair that is not a valid field is skipped with a
// warning.
std::string otlp_headers(const std::string& text, std::vector<std::string>& warnings);

}  // namespace devops::serve
