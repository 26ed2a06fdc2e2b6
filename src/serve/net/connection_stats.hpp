#pragma once

// What the engine counts of its connections, for whoever reports them (the
// metrics page reads them; the engine includes nothing of the metrics).

#include <atomic>
#include <cstdint>

namespace devops::serve {

struct ConnectionStats {
  std::atomic<std::int64_t> open{0};       // client connections open now
  std::atomic<std::uint64_t> rejected{0};  // closed at once: --max-connections reached, nothing to evict
  std::atomic<std::uint64_t> evicted{0};   // idle ones closed to admit a new one at the limit
};

}  // namespace devops::serve
