#pragma once

// The config file of a running server: re-resolves each new version with the
// flags and the environment (which still win), applies what can change live
// (log level and format, faults, the probe switches, the shutdown timings),
// warns about restart-only changes, and keeps what GET / shows under "config".
// apply() runs on the watcher's thread, never on an event loop.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config_file.hpp"
#include "core/serve_config.hpp"
#include "serve/app/metrics.hpp"
#include "serve/log/log.hpp"

namespace devops::serve {

class Service;
class InfoDocument;

// How serve was configured, so that a reload can resolve again.
struct ConfigSource {
  std::string path;
  core::ServeFlags flags;
  core::EnvLookup env;
  core::ConfigFile file;  // as parsed at start
  std::string text;       // as read at start
};

class LiveConfig {
 public:
  using Clock = std::chrono::system_clock;

  // `running`: the configuration serve started with, from `source`.
  LiveConfig(ConfigSource source, core::ServeConfig running, Logger& logger, Metrics::ConfigReloads& metrics);

  // The targets of live changes, once they exist.
  void attach(Service& service, InfoDocument& info);

  // One version of the file's text: nullopt when applied, else why not (the
  // running configuration is then unchanged).
  std::optional<std::string> apply(const std::string& text);
  // Logs the warnings of the file as loaded at start (unknown keys).
  void log_start() const;

  // What GET / and the page show under "config".
  core::Json report() const;
  std::chrono::milliseconds shutdown_delay() const;
  std::chrono::milliseconds shutdown_timeout() const;
  const std::string& path() const { return source_.path; }
  const std::string& start_text() const { return source_.text; }

 private:
  void warn(const core::ConfigFile& file) const;

  ConfigSource source_;
  const core::ServeConfig running_;  // the restart-only values stay these
  Logger& logger_;
  Metrics::ConfigReloads& metrics_;
  Service* service_{nullptr};
  InfoDocument* info_{nullptr};

  mutable std::mutex mu_;      // guards what follows
  core::ServeConfig current_;  // what runs: the live values of the last file, the restart-only ones of the start
  core::ServeConfig wanted_;   // what the last file asked for
  core::LoadedConfig loaded_;
  std::string text_;
};

}  // namespace devops::serve
