#include "serve/app/visits.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "core/host.hpp"
#include "serve/net/worker_thread.hpp"

namespace devops::serve {

namespace {

constexpr std::size_t kMaxFileBytes = 64;  // 20 digits and a newline; anything longer is not ours

using core::Fd;

// The file's text; nullopt when it does not exist. Throws on any other failure.
std::optional<std::string> read_counter_file(const std::string& path) {
  const Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!f.valid()) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error(fmt::format("visit counter {}: cannot read: {}", path, core::errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    throw std::runtime_error(fmt::format("visit counter {}: not a regular file", path));
  }
  std::string text;
  char buf[kMaxFileBytes + 1];
  while (text.size() <= kMaxFileBytes) {
    const auto n = ::read(f.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw std::runtime_error(fmt::format("visit counter {}: cannot read: {}", path, core::errno_text(errno)));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

}  // namespace

std::optional<std::uint64_t> parse_visit_count(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return n;
}

VisitCounter::VisitCounter(std::string dir, const Logger& logger, std::chrono::milliseconds interval)
    : dir_(std::move(dir)),
      path_(dir_ + "/visits"),
      tmp_path_(dir_ + "/.visits.tmp"),
      logger_(logger),
      interval_(interval) {
  auto refuse = [&](const std::string& why) {
    logger_.log(core::LogLevel::Error, "cannot use the visit counter", {{"error", why}, {"path", path_}});
    throw std::runtime_error(why);
  };
  struct stat st {};
  if (::stat(dir_.c_str(), &st) != 0) refuse(fmt::format("data directory {}: {}", dir_, core::errno_text(errno)));
  if (!S_ISDIR(st.st_mode)) refuse(fmt::format("data directory {}: not a directory", dir_));

  // The lock first: the file is only trusted while no one else writes it. A
  // directory where the lock file cannot be created (read-only) is locked
  // through the directory itself; nothing can be written there anyway.
  const std::string lock_path = dir_ + "/visits.lock";
  lock_fd_.reset(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!lock_fd_.valid()) lock_fd_.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock_fd_.valid()) refuse(fmt::format("data directory {}: cannot open: {}", dir_, core::errno_text(errno)));
  while (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      refuse(fmt::format("visit counter {}: another process uses it ({} is locked); one server per data directory",
                         path_, lock_path));
    }
    refuse(fmt::format("visit counter {}: cannot lock {}: {}", path_, lock_path, core::errno_text(errno)));
  }

  std::uint64_t start = 0;
  if (const auto text = read_counter_file(path_)) {
    const auto n = parse_visit_count(*text);
    if (!n) refuse(fmt::format("visit counter {}: not a number; fix or remove the file (it is left as it is)", path_));
    start = n.value_or(0);
  }
  count_.store(start);
  written_ = start;
  {
    const std::lock_guard lock(write_mutex_);
    (void)write_locked(start);  // creates the file; a failure is logged and the service still starts
  }
  logger_.log(core::LogLevel::Info, "visit counter",
              {{"path", path_}, {"visits", static_cast<std::int64_t>(start)}, {"writable", writable()}});
  flusher_ = worker_thread([this] { run(); });
}

VisitCounter::~VisitCounter() {
  stop();
}

std::string VisitCounter::last_error() const {
  const std::lock_guard lock(write_mutex_);
  return error_;
}

bool VisitCounter::write_locked(std::uint64_t n) {
  std::string error;
  {
    const std::string text = fmt::format("{}\n", n);
    const Fd f(::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!f.valid()) {
      error = fmt::format("cannot create {}: {}", tmp_path_, core::errno_text(errno));
    } else if (!core::write_all(f.get(), text) || ::fsync(f.get()) != 0) {
      error = fmt::format("cannot write {}: {}", tmp_path_, core::errno_text(errno));
    }
  }
  if (error.empty() && ::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    error = fmt::format("cannot rename {} to {}: {}", tmp_path_, path_, core::errno_text(errno));
  }
  if (error.empty()) {
    // The rename is durable only once the directory is.
    const Fd d(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!d.valid() || ::fsync(d.get()) != 0) error = fmt::format("cannot sync {}: {}", dir_, core::errno_text(errno));
  }
  if (!error.empty()) {
    (void)::unlink(tmp_path_.c_str());  // a partial temporary file is never read; do not leave it
    if (writable_.exchange(false) || error != error_) {
      logger_.log(core::LogLevel::Error, "cannot write the visit counter",
                  {{"error", error}, {"path", path_}, {"visits", static_cast<std::int64_t>(n)}});
    }
    error_ = std::move(error);
    return false;
  }
  if (!writable_.exchange(true)) {
    logger_.log(core::LogLevel::Info, "visit counter written again",
                {{"path", path_}, {"visits", static_cast<std::int64_t>(n)}});
  }
  error_.clear();
  written_ = n;
  ever_written_ = true;
  return true;
}

bool VisitCounter::flush() {
  const std::lock_guard lock(write_mutex_);
  const auto n = count_.load(std::memory_order_relaxed);
  if (n == written_ && ever_written_ && writable_.load()) return true;
  return write_locked(n);
}

void VisitCounter::run() {
  std::unique_lock lock(stop_mutex_);
  while (!stopping_) {
    stop_cv_.wait_for(lock, interval_, [this] { return stopping_; });
    lock.unlock();
    (void)flush();
    lock.lock();
  }
}

bool VisitCounter::stop() {
  {
    const std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  return flush();
}

}  // namespace devops::serve
