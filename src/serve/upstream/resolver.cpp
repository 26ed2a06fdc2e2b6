#include "serve/upstream/resolver.hpp"

#include <netdb.h>

#include <cstring>

#include "serve/net/worker_thread.hpp"

namespace devops::serve {

namespace {

std::string key_of(const std::string& host, int port) {
  return host + ' ' + std::to_string(port);
}

Resolution resolve(const std::string& host, int port) {
  Resolution r;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const auto service = std::to_string(port);
  const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    r.error = rc == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(rc);
    if (found != nullptr) ::freeaddrinfo(found);
    return r;
  }
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_addrlen > sizeof(sockaddr_storage)) continue;
    ResolvedAddress ra;
    std::memcpy(&ra.addr, a->ai_addr, a->ai_addrlen);
    ra.len = a->ai_addrlen;
    r.addresses.push_back(ra);
  }
  ::freeaddrinfo(found);
  return r;
}

}  // namespace

Resolver::Resolver() {
  for (std::size_t i = 0; i < kThreads; ++i) threads_.push_back(worker_thread([this] { run(); }));
}

Resolver::~Resolver() {
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  // A thread inside getaddrinfo finishes its lookup first (resolv.conf's
  // timeout at most): the process's own resolver is never destroyed.
  for (auto& t : threads_) t.join();
}

bool Resolver::cached(const std::string& host, int port, Resolution& out) {
  const std::lock_guard lock(mu_);
  const auto it = kept_.find(key_of(host, port));
  if (it == kept_.end() || it->second.until < Clock::now()) return false;
  out = it->second.answer;
  return true;
}

bool Resolver::lookup(const std::string& host, int port, Reply reply) {
  const auto key = key_of(host, port);
  {
    const std::lock_guard lock(mu_);
    if (stop_) return false;
    auto it = pending_.find(key);
    if (it == pending_.end()) {
      if (pending_.size() >= kMaxPending) return false;
      it = pending_.emplace(key, Pending{}).first;
      queue_.push_back(key);
    }
    it->second.replies.push_back(std::move(reply));
  }
  cv_.notify_one();
  return true;
}

void Resolver::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const auto key = std::move(queue_.front());
    queue_.pop_front();
    const auto space = key.rfind(' ');
    const auto host = key.substr(0, space);
    const int port = std::stoi(key.substr(space + 1));
    lock.unlock();
    const auto answer = resolve(host, port);
    lock.lock();
    if (stop_) return;
    auto node = pending_.extract(key);
    if (answer.error.empty()) {
      if (kept_.size() >= kMaxKept) kept_.clear();
      kept_[key] = Kept{answer, Clock::now() + kKeepAnswers};
    }
    lock.unlock();
    for (auto& reply : node.mapped().replies) reply(answer);
    lock.lock();
  }
}

Resolver& shared_resolver() {
  // Never destroyed: a thread may still be inside getaddrinfo at exit.
  static auto* r = new Resolver();
  return *r;
}

}  // namespace devops::serve
