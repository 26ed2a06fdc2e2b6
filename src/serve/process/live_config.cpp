#include "serve/process/live_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <iterator>

#include "core/serve_config.hpp"
#include "core/timefmt.hpp"
#include "serve/app/info_document.hpp"
#include "serve/app/service.hpp"

namespace devops::serve {

namespace {

// The restart-only settings: each as text for the log, and how the running
// value is kept.
using core::ServeConfig;
struct RestartOnly {
  const char* key;
  std::string (*value)(const ServeConfig&);
  void (*keep)(ServeConfig& next, const ServeConfig& running);
};
// A duration setting as text, "1.5s".
template <auto Member>
std::string duration_text(const ServeConfig& c) {
  return core::format_duration(c.*Member);
}
// The running value of `Member` kept in `next`.
template <auto Member>
void keep(ServeConfig& next, const ServeConfig& running) {
  next.*Member = running.*Member;
}
constexpr RestartOnly kRestartOnly[] = {
    {"host", [](const ServeConfig& c) { return c.host; }, keep<&ServeConfig::host>},
    {"port", [](const ServeConfig& c) { return std::to_string(c.port); }, keep<&ServeConfig::port>},
    {"threads", [](const ServeConfig& c) { return c.threads == 0 ? std::string("auto") : std::to_string(c.threads); },
     keep<&ServeConfig::threads>},
    {"max_connections", [](const ServeConfig& c) { return std::to_string(c.max_connections); },
     keep<&ServeConfig::max_connections>},
    {"data_dir", [](const ServeConfig& c) { return c.data_dir; }, keep<&ServeConfig::data_dir>},
    {"flush_interval", duration_text<&ServeConfig::flush_interval>, keep<&ServeConfig::flush_interval>},
    {"request_timeout", duration_text<&ServeConfig::request_timeout>, keep<&ServeConfig::request_timeout>},
    {"idle_timeout", duration_text<&ServeConfig::idle_timeout>, keep<&ServeConfig::idle_timeout>},
    {"write_timeout", duration_text<&ServeConfig::write_timeout>, keep<&ServeConfig::write_timeout>},
};

std::vector<std::string> pending(const core::ServeConfig& wanted, const core::ServeConfig& running) {
  std::vector<std::string> keys;
  for (const auto& r : kRestartOnly) {
    if (r.value(wanted) != r.value(running)) keys.emplace_back(r.key);
  }
  return keys;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ",") + w;
  return out;
}

}  // namespace

LiveConfig::LiveConfig(ConfigSource source, core::ServeConfig running, Logger& logger, Metrics::ConfigReloads& metrics)
    : source_(std::move(source)),
      running_(running),
      logger_(logger),
      metrics_(metrics),
      current_(running),
      wanted_(std::move(running)) {
  const auto now = Clock::now();
  loaded_ = {source_.path, 1, core::iso8601_utc(now), source_.file.ui, source_.file.app, {}};
  text_ = source_.text;
  metrics_.enabled.store(true, std::memory_order_relaxed);
  metrics_.last_success_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(),
                                 std::memory_order_relaxed);
}

void LiveConfig::attach(Service& service, InfoDocument& info) {
  std::lock_guard lock(mu_);
  service_ = &service;
  info_ = &info;
}

void LiveConfig::warn(const core::ConfigFile& file) const {
  for (const auto& w : file.warnings) logger_.log(core::LogLevel::Warning, "config file", {{"warning", w}});
}

void LiveConfig::log_start() const {
  warn(source_.file);
}

std::optional<std::string> LiveConfig::apply(const std::string& text) {
  auto parsed = core::parse_config_file(text, source_.path);
  if (auto* e = std::get_if<core::ConfigError>(&parsed)) return e->message;
  const auto& file = std::get<core::ConfigFile>(parsed);
  if (auto e = core::check_settings(file)) return e->message;
  auto resolved = core::resolve_serve_config(source_.flags, source_.env, &file);
  if (auto* e = std::get_if<core::ConfigError>(&resolved)) return e->message;
  auto next = std::get<core::ServeConfig>(std::move(resolved));

  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  metrics_.last_success_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(),
                                 std::memory_order_relaxed);
  if (text == text_) {
    logger_.log(core::LogLevel::Info, "config file unchanged",
                {{"file", source_.path}, {"generation", loaded_.generation}});
    return std::nullopt;
  }
  warn(file);

  // Restart-only settings: a new value is reported once, and waits.
  for (const auto& r : kRestartOnly) {
    const auto wanted = r.value(next);
    if (wanted == r.value(wanted_)) continue;
    if (wanted != r.value(running_)) {
      logger_.log(core::LogLevel::Warning, "config change takes effect at the next start",
                  {{"file", source_.path}, {"key", r.key}, {"running", r.value(running_)}, {"wanted", wanted}});
      metrics_.restart_required.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Live settings.
  std::vector<std::string> changed;
  if (next.log_level != current_.log_level) changed.emplace_back("log_level");
  if (next.log_format != current_.log_format) changed.emplace_back("log_format");
  logger_.set_level(next.log_level);
  logger_.set_format(next.log_format);
  if (service_ != nullptr) {
    // The probe switches follow the file only when the file's value changes,
    // so that a `health --set` stays in force until then.
    if (next.switches.unready != current_.switches.unready) {
      service_->set_ready(!next.switches.unready);
      changed.emplace_back("ready");
    }
    if (next.switches.unhealthy != current_.switches.unhealthy) {
      service_->set_healthy(!next.switches.unhealthy);
      changed.emplace_back("healthy");
    }
    if (next.switches.faults != current_.switches.faults) {
      service_->set_faults(next.switches.faults);
      changed.emplace_back("faults");
    }
    if (next.switches.introspection != current_.switches.introspection ||
        next.switches.max_delay != current_.switches.max_delay ||
        next.switches.max_body != current_.switches.max_body) {
      service_->set_introspection(next.switches);
      if (next.switches.introspection != current_.switches.introspection) changed.emplace_back("introspection");
      if (next.switches.max_delay != current_.switches.max_delay) changed.emplace_back("max_delay");
      if (next.switches.max_body != current_.switches.max_body) changed.emplace_back("max_body");
    }
    if (next.switches.trusted_proxies != current_.switches.trusted_proxies) {
      service_->set_trusted_proxies(next.switches.trusted_proxies);
      changed.emplace_back("trusted_proxies");
    }
    if (next.switches.env_allow != current_.switches.env_allow) {
      service_->set_env_allow(next.switches.env_allow);
      changed.emplace_back("env_allow");
    }
    if (next.upstreams != current_.upstreams) {
      service_->set_upstreams(upstream_settings(next.upstreams));
      if (next.upstreams.urls != current_.upstreams.urls) changed.emplace_back("upstreams");
      if (next.upstreams.timeout != current_.upstreams.timeout) changed.emplace_back("upstream_timeout");
      if (next.upstreams.max_body != current_.upstreams.max_body) changed.emplace_back("upstream_max_body");
      if (next.upstreams.cacert != current_.upstreams.cacert) changed.emplace_back("upstream_cacert");
    }
  }
  if (next.shutdown_delay != current_.shutdown_delay) changed.emplace_back("shutdown_delay");
  if (next.shutdown_timeout != current_.shutdown_timeout) changed.emplace_back("shutdown_timeout");
  if (file.ui != loaded_.ui) changed.emplace_back("ui");
  if (file.app != loaded_.values) changed.emplace_back("values");

  // The restart-only values stay the running ones.
  const auto keep = current_;
  current_ = next;
  for (const auto& r : kRestartOnly) r.keep(current_, keep);
  loaded_ = {source_.path, loaded_.generation + 1, core::iso8601_utc(now), file.ui, file.app, pending(next, running_)};
  text_ = text;
  wanted_ = std::move(next);
  if (info_ != nullptr) info_->invalidate();
  logger_.log(core::LogLevel::Info, "config reloaded",
              {{"file", source_.path}, {"generation", loaded_.generation}, {"changed", joined(changed)}});
  logger_.set_level(current_.log_level);
  return std::nullopt;
}

core::Json LiveConfig::report() const {
  std::lock_guard lock(mu_);
  return core::loaded_config_to_json(loaded_);
}

std::chrono::milliseconds LiveConfig::shutdown_delay() const {
  std::lock_guard lock(mu_);
  return current_.shutdown_delay;
}

std::chrono::milliseconds LiveConfig::shutdown_timeout() const {
  std::lock_guard lock(mu_);
  return current_.shutdown_timeout;
}

}  // namespace devops::serve
