#pragma once

// Watches the config file on a thread of its own and hands every new version
// to a callback once it has stopped changing. It sees the three ways a file
// changes: the kubelet's (a new ..TIMESTAMP directory and the ..data symlink
// renamed over the old one), an editor's (write a copy, rename it over) and
// an in-place rewrite; inotify on the file's directory (and on the one it
// resolves to through symlinks) wakes it at once, and
// it also looks once a second, for filesystems inotify does not see.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/fd.hpp"
#include "serve/app/metrics.hpp"
#include "serve/log/log.hpp"

namespace devops::serve {

// How long a new text must stay the same before it is applied: a file being
// written is never applied half-way.
inline constexpr std::chrono::milliseconds kConfigSettle{50};
inline constexpr std::chrono::milliseconds kConfigPoll{1000};

class ConfigWatch {
 public:
  // nullopt when the text was applied, else why not.
  using Apply = std::function<std::optional<std::string>(const std::string& text)>;

  // `applied`: the text in force now. Starts the thread.
  ConfigWatch(std::string path, std::string applied, Apply apply, const Logger& logger,
              Metrics::ConfigReloads& metrics);
  ~ConfigWatch();
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  // Reads and applies the file now, changed or not (SIGHUP); from any thread.
  void reload_now();

 private:
  void run();
  void wake() const;
  void applied(const std::optional<std::string>& error, const std::string& text);
  void follow_target();

  std::string path_;
  std::string applied_;
  std::optional<std::string> rejected_;  // the last text that failed, not retried until it changes
  Apply apply_;
  const Logger& logger_;
  Metrics::ConfigReloads& metrics_;
  core::Fd inotify_fd_;
  int target_watch_{-1};  // the directory the file resolves to, when not the path's own
  std::string target_dir_;
  core::Fd wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> forced_{false};
  std::thread thread_;
};

}  // namespace devops::serve
