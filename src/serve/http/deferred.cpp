#include "serve/http/deferred.hpp"

namespace devops::serve {

namespace {
struct Current {
  void* loop{nullptr};
  void* conn{nullptr};
  MintToken mint{nullptr};
  void (*wake)(void*, const std::shared_ptr<void>&){nullptr};
};
thread_local Current tl_current;
}  // namespace

void set_current_connection(void* loop, void* conn, MintToken mint,
                            void (*wake)(void* loop, const std::shared_ptr<void>& conn)) {
  tl_current = {loop, conn, mint, wake};
}

WakeTarget current_wake_target() {
  const auto& c = tl_current;
  if (c.conn == nullptr || c.mint == nullptr) return {};
  return {c.wake, c.loop, c.mint(c.loop, c.conn)};
}

}  // namespace devops::serve
