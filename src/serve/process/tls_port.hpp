#pragma once

// The HTTPS port's certificate: loaded at the start, then watched. A new
// pair (the kubelet's Secret swap, an editor's rename, a rewrite in place)
// is loaded and checked on the watcher's thread and published whole; new
// handshakes take it, connections already open keep theirs. A bad,
// mismatched or half-written pair keeps the last good one, with an ERROR
// line and a failed reload counted.

#include <memory>
#include <string>
#include <variant>

#include "core/serve_config.hpp"
#include "serve/app/published.hpp"
#include "serve/engine/engine.hpp"
#include "serve/log/log.hpp"
#include "serve/net/connection_stats.hpp"
#include "serve/process/file_watch.hpp"
#include "serve/tls/tls_context.hpp"

namespace devops::serve {

class TlsPort {
 public:
  // Loads the files named in `settings`; the error says what is wrong with them.
  static std::variant<std::unique_ptr<TlsPort>, std::string> open(const core::TlsSettings& settings, TlsStats& stats,
                                                                  const Logger& logger);
  ~TlsPort();
  TlsPort(const TlsPort&) = delete;
  TlsPort& operator=(const TlsPort&) = delete;

  // What makes the TLS port's connections (from the event loops).
  ProtocolFactory protocol();
  // Starts watching the files.
  void watch();
  // Reads them now (SIGHUP).
  void reload_now();
  // Stops watching.
  void stop() { watch_.reset(); }

 private:
  TlsPort(const core::TlsSettings& settings, TlsStats& stats, const Logger& logger,
          const std::shared_ptr<const TlsContext>& first, std::vector<std::string> texts);
  std::optional<std::string> apply(const std::vector<std::string>& texts);

  core::TlsSettings settings_;
  TlsStats& stats_;
  const Logger& logger_;
  Published<std::shared_ptr<const TlsContext>> current_;
  std::vector<std::string> start_texts_;
  std::unique_ptr<FileWatch> watch_;
};

}  // namespace devops::serve
