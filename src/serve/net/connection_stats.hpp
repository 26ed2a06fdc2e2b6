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

// What the TLS port sees, counted by its connections and the reloads of its
// certificate; rendered only when TLS is on.
struct TlsStats {
  std::atomic<bool> enabled{false};
  std::atomic<std::uint64_t> handshakes{0};  // finished
  std::atomic<std::uint64_t> failed{0};      // garbage, an old protocol, no client certificate, ...
  std::atomic<std::uint64_t> plain_http{0};  // plain HTTP sent to the TLS port: a 400 in clear text
  std::atomic<std::uint64_t> evicted{0};     // handshakes under way ended to make room for a new one
  std::atomic<std::int64_t> not_after{0};    // the served certificate's expiry, Unix seconds
  std::atomic<std::uint64_t> reloads_success{0};
  std::atomic<std::uint64_t> reloads_failure{0};
};

}  // namespace devops::serve
