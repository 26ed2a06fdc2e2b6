#include "serve/process/file_watch.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>

#include "core/config_file.hpp"
#include "core/fd.hpp"
#include "serve/net/worker_thread.hpp"

namespace devops::serve {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

constexpr auto kWatchMask =
    IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB;

// The texts as one string that differs whenever any of them does.
std::string key_of(const std::vector<std::string>& texts) {
  std::string key;
  for (const auto& t : texts) {
    key += std::to_string(t.size());
    key += ':';
    key += t;
  }
  return key;
}

void drain(int fd) {
  char buf[4096];
  while (fd >= 0 && ::read(fd, buf, sizeof buf) > 0) {
  }
}

}  // namespace

FileWatch::FileWatch(std::vector<std::string> paths, const std::vector<std::string>& applied, Apply apply,
                     Result result, Words words, const Logger& logger)
    : paths_(std::move(paths)),
      applied_(key_of(applied)),
      apply_(std::move(apply)),
      result_(std::move(result)),
      words_(std::move(words)),
      logger_(logger),
      targets_(paths_.size()) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  inotify_fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  for (const auto& path : paths_) {
    if (inotify_fd_.valid() && ::inotify_add_watch(inotify_fd_.get(), directory_of(path).c_str(), kWatchMask) < 0) {
      inotify_fd_.reset();
    }
  }
  if (!inotify_fd_.valid()) {
    logger_.log(core::LogLevel::Warning, words_.what + ": no inotify, looking for changes once a second",
                {{"file", paths_.front()}});
  }
  follow_targets();
  thread_ = worker_thread([this] { run(); });
}

// Through symlinks (a ConfigMap's config.json -> ..data/config.json), an
// in-place rewrite happens in another directory: watch that one too, and
// follow it when the symlinks move.
void FileWatch::follow_targets() {
  if (!inotify_fd_.valid()) return;
  for (std::size_t i = 0; i < paths_.size(); ++i) {
    auto& t = targets_[i];
    char buf[PATH_MAX];
    if (::realpath(paths_[i].c_str(), buf) == nullptr) continue;
    const auto dir = directory_of(buf);
    if (dir == t.dir) continue;
    if (t.watch >= 0) (void)::inotify_rm_watch(inotify_fd_.get(), t.watch);
    t.watch = -1;
    t.dir = dir;
    char own[PATH_MAX];
    if (::realpath(directory_of(paths_[i]).c_str(), own) != nullptr && dir == own) continue;  // already watched
    t.watch = ::inotify_add_watch(inotify_fd_.get(), dir.c_str(), kWatchMask);
  }
}

FileWatch::~FileWatch() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

void FileWatch::reload_now() {
  forced_.store(true);
  wake();
}

void FileWatch::wake() const {
  if (wake_fd_.valid()) core::notify(wake_fd_.get());
}

void FileWatch::applied(const std::optional<std::string>& error, const std::string& key) {
  if (result_) result_(!error);
  if (error) {
    rejected_ = key;
    logger_.log(core::LogLevel::Error, words_.failed, {{"file", paths_.front()}, {"error", *error}});
    return;
  }
  applied_ = key;
  rejected_.reset();
}

void FileWatch::run() {
  std::optional<std::string> pending;  // a new version, waiting to settle
  SteadyClock::time_point pending_since;
  bool gone = false;
  std::string read_error;  // the last one logged, so that it is logged once
  while (!stop_.load()) {
    auto timeout = kConfigPoll;
    if (pending) {
      const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - pending_since);
      timeout = std::max(std::chrono::milliseconds(1), kConfigSettle - age);
    }
    pollfd fds[2] = {{wake_fd_.get(), POLLIN, 0}, {inotify_fd_.get(), POLLIN, 0}};
    (void)::poll(fds, inotify_fd_.valid() ? 2 : 1, static_cast<int>(timeout.count()));
    drain(wake_fd_.get());
    drain(inotify_fd_.get());
    if (stop_.load()) break;
    const bool forced = forced_.exchange(false);

    std::vector<std::string> texts;
    std::optional<core::ReadError> failed;
    std::string failed_path;
    for (const auto& path : paths_) {
      auto read = core::read_config_text(path);
      if (auto* e = std::get_if<core::ReadError>(&read)) {
        failed = *e;
        failed_path = path;
        break;
      }
      texts.push_back(std::move(std::get<std::string>(read)));
    }
    if (failed) {
      pending.reset();
      if (forced) {  // SIGHUP with nothing to read: a failed reload
        applied(failed->message, {});
        continue;
      }
      if (failed->errno_value == ENOENT) {
        if (!gone) {
          logger_.log(core::LogLevel::Warning, words_.what + " is gone, keeping " + words_.kept,
                      {{"file", failed_path}});
        }
        gone = true;
      } else if (failed->message != read_error) {
        logger_.log(core::LogLevel::Error, words_.what + " cannot be read, keeping " + words_.kept,
                    {{"file", failed_path}, {"error", failed->message}});
      }
      read_error = failed->message;
      continue;
    }
    auto key = key_of(texts);
    follow_targets();
    if (gone) logger_.log(core::LogLevel::Info, words_.what + " is back", {{"file", paths_.front()}});
    gone = false;
    read_error.clear();
    if (!forced) {
      if (key == applied_ || (rejected_ && key == *rejected_)) {
        pending.reset();
        continue;
      }
      if (!pending || key != *pending) {  // new, or still changing: wait for it to settle
        pending = std::move(key);
        pending_since = SteadyClock::now();
        continue;
      }
      if (SteadyClock::now() - pending_since < kConfigSettle) continue;
    }
    pending.reset();
    applied(apply_(texts), key);
  }
}

}  // namespace devops::serve
