#pragma once

// Watches files on a thread of its own (the config file; the TLS
// certificate, key and client CA) and hands every new version of them to a
// callback once they have stopped changing. It sees the three ways a file
// changes: the kubelet's (a new ..TIMESTAMP directory and the ..data symlink
// renamed over the old one), an editor's (write a copy, rename it over) and
// an in-place rewrite; inotify on each file's directory (and on the one it
// resolves to through symlinks) wakes it at once, and it also looks once a
// second, for filesystems inotify does not see. A version that fails is
// kept out until one of the files changes again; the last good one stays.

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"
#include "serve/log/log.hpp"

namespace devops::serve {

// How long a new text must stay the same before it is applied: a file being
// written is never applied half-way.
inline constexpr std::chrono::milliseconds kConfigSettle{50};
inline constexpr std::chrono::milliseconds kConfigPoll{1000};

class FileWatch {
 public:
  // The files' texts, in the order of the paths: nullopt when applied, else why not.
  using Apply = std::function<std::optional<std::string>(const std::vector<std::string>& texts)>;
  // Told of each attempt: applied or not.
  using Result = std::function<void(bool ok)>;
  // How the log lines name what is watched: "config file", "config reload
  // failed, keeping the last good configuration", "the last good configuration".
  struct Words {
    std::string what;
    std::string failed;
    std::string kept;
  };

  // `applied`: the texts in force now. Starts the thread.
  FileWatch(std::vector<std::string> paths, const std::vector<std::string>& applied, Apply apply, Result result,
            Words words, const Logger& logger);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  // Reads and applies the files now, changed or not (SIGHUP); from any thread.
  void reload_now();

 private:
  struct Target {
    int watch{-1};  // the directory the file resolves to, when not the path's own
    std::string dir;
  };
  void run();
  void wake() const;
  void applied(const std::optional<std::string>& error, const std::string& key);
  void follow_targets();

  std::vector<std::string> paths_;
  std::string applied_;                  // the texts in force, as one key
  std::optional<std::string> rejected_;  // the last texts that failed, not retried until they change
  Apply apply_;
  Result result_;
  Words words_;
  const Logger& logger_;
  core::Fd inotify_fd_;
  std::vector<Target> targets_;
  core::Fd wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> forced_{false};
  std::thread thread_;
};

}  // namespace devops::serve
