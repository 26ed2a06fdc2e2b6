#include "serve/process/config_watch.hpp"

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

void drain(int fd) {
  char buf[4096];
  while (fd >= 0 && ::read(fd, buf, sizeof buf) > 0) {
  }
}

}  // namespace

ConfigWatch::ConfigWatch(std::string path, std::string applied, Apply apply, const Logger& logger,
                         Metrics::ConfigReloads& metrics)
    : path_(std::move(path)),
      applied_(std::move(applied)),
      apply_(std::move(apply)),
      logger_(logger),
      metrics_(metrics) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  inotify_fd_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (inotify_fd_.valid() && ::inotify_add_watch(inotify_fd_.get(), directory_of(path_).c_str(), kWatchMask) < 0) {
    inotify_fd_.reset();
  }
  if (!inotify_fd_.valid()) {
    logger_.log(core::LogLevel::Warning, "config file: no inotify, looking for changes once a second",
                {{"file", path_}});
  }
  follow_target();
  thread_ = worker_thread([this] { run(); });
}

// Through symlinks (a ConfigMap's config.json -> ..data/config.json), an
// in-place rewrite happens in another directory: watch that one too, and
// follow it when the symlinks move.
void ConfigWatch::follow_target() {
  if (!inotify_fd_.valid()) return;
  char buf[PATH_MAX];
  if (::realpath(path_.c_str(), buf) == nullptr) return;
  const auto dir = directory_of(buf);
  if (dir == target_dir_) return;
  if (target_watch_ >= 0) (void)::inotify_rm_watch(inotify_fd_.get(), target_watch_);
  target_watch_ = -1;
  target_dir_ = dir;
  char own[PATH_MAX];
  if (::realpath(directory_of(path_).c_str(), own) != nullptr && dir == own) return;  // already watched
  target_watch_ = ::inotify_add_watch(inotify_fd_.get(), dir.c_str(), kWatchMask);
}

ConfigWatch::~ConfigWatch() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

void ConfigWatch::reload_now() {
  forced_.store(true);
  wake();
}

void ConfigWatch::wake() const {
  if (wake_fd_.valid()) core::notify(wake_fd_.get());
}

void ConfigWatch::applied(const std::optional<std::string>& error, const std::string& text) {
  if (error) {
    rejected_ = text;
    metrics_.failure.fetch_add(1, std::memory_order_relaxed);
    metrics_.last_failed.store(true, std::memory_order_relaxed);
    logger_.log(core::LogLevel::Error, "config reload failed, keeping the last good configuration",
                {{"file", path_}, {"error", *error}});
    return;
  }
  applied_ = text;
  rejected_.reset();
  metrics_.success.fetch_add(1, std::memory_order_relaxed);
  metrics_.last_failed.store(false, std::memory_order_relaxed);
}

void ConfigWatch::run() {
  std::optional<std::string> pending;  // a new text, waiting to settle
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

    auto read = core::read_config_text(path_);
    if (auto* e = std::get_if<core::ReadError>(&read)) {
      pending.reset();
      if (forced) {  // SIGHUP with nothing to read: a failed reload
        applied(e->message, {});
        continue;
      }
      if (e->errno_value == ENOENT) {
        if (!gone) {
          logger_.log(core::LogLevel::Warning, "config file is gone, keeping the last good configuration",
                      {{"file", path_}});
        }
        gone = true;
      } else if (e->message != read_error) {
        logger_.log(core::LogLevel::Error, "config file cannot be read, keeping the last good configuration",
                    {{"file", path_}, {"error", e->message}});
      }
      read_error = e->message;
      continue;
    }
    auto& text = std::get<std::string>(read);
    follow_target();
    if (gone) logger_.log(core::LogLevel::Info, "config file is back", {{"file", path_}});
    gone = false;
    read_error.clear();
    if (!forced) {
      if (text == applied_ || (rejected_ && text == *rejected_)) {
        pending.reset();
        continue;
      }
      if (!pending || text != *pending) {  // new, or still changing: wait for it to settle
        pending = std::move(text);
        pending_since = SteadyClock::now();
        continue;
      }
      if (SteadyClock::now() - pending_since < kConfigSettle) continue;
    }
    pending.reset();
    applied(apply_(text), text);
  }
}

}  // namespace devops::serve
