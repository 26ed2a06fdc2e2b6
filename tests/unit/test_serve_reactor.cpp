// The event loop's two building blocks, without the engine: the Reactor
// (epoll with tags and a wake-up) on pipes, and the timer lists' order and
// unlinking.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "serve/net/reactor.hpp"
#include "serve/net/timer_list.hpp"

using namespace devops::serve;
using namespace std::chrono_literals;

namespace {

struct Pipe {
  int r{-1};
  int w{-1};
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

struct Seen {
  std::vector<std::pair<void*, std::uint32_t>> events;
  int wakes{0};
};

Seen turn(Reactor& r, int timeout_ms) {
  Seen s;
  r.poll(timeout_ms);
  r.dispatch([&](void* tag, std::uint32_t ev) { s.events.emplace_back(tag, ev); }, [&] { ++s.wakes; });
  return s;
}

}  // namespace

TEST_CASE("Reactor: events come back with their tags; modify and remove take effect") {
  Reactor r;
  Pipe a;
  Pipe b;
  int tag_a = 0;
  int tag_b = 0;
  REQUIRE(r.add(a.r, EPOLLIN, &tag_a));
  REQUIRE(r.add(b.r, EPOLLIN, &tag_b));
  CHECK(turn(r, 0).events.empty());  // nothing to read yet

  REQUIRE(::write(a.w, "x", 1) == 1);
  auto s = turn(r, 1000);
  REQUIRE(s.events.size() == 1);
  CHECK(s.events[0].first == &tag_a);
  CHECK((s.events[0].second & EPOLLIN) != 0);

  // Level-triggered: still readable, still reported; then not, once watched for EPOLLOUT only.
  CHECK(turn(r, 0).events.size() == 1);
  REQUIRE(r.modify(a.r, EPOLLOUT, &tag_a));
  CHECK(turn(r, 0).events.empty());  // a pipe's read end is never writable

  REQUIRE(::write(b.w, "y", 1) == 1);
  REQUIRE(r.remove(b.r));
  CHECK(turn(r, 0).events.empty());
  CHECK_FALSE(r.remove(b.r));  // not watched any more: the kernel says so
  CHECK_FALSE(r.add(-1, EPOLLIN, &tag_a));
}

TEST_CASE("Reactor: wake() from another thread ends a wait; wakes before a look are one on_wake") {
  Reactor r;
  const auto start = std::chrono::steady_clock::now();
  std::thread t([&] {
    std::this_thread::sleep_for(50ms);
    r.wake();
  });
  const auto s = turn(r, 10'000);
  t.join();
  CHECK(s.wakes == 1);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  CHECK(turn(r, 0).wakes == 0);  // drained

  r.wake();
  r.wake();  // twice before the loop looks: one on_wake
  CHECK(turn(r, 0).wakes == 1);
  CHECK(turn(r, 0).wakes == 0);
}

TEST_CASE("TimerList: appending keeps the order, re-appending moves to the end, unlinking is O(1) anywhere") {
  const auto t0 = std::chrono::steady_clock::time_point{} + 100s;
  TimerList idle;
  TimerList write;
  TimerNode a;
  TimerNode b;
  TimerNode c;
  append(idle, &a, t0 + 1s);
  append(idle, &b, t0 + 2s);
  append(idle, &c, t0 + 3s);
  CHECK(idle.size == 3);
  CHECK(idle.head == &a);
  CHECK(idle.tail == &c);

  append(idle, &a, t0 + 4s);  // a again: now last, its deadline the new one
  CHECK(idle.head == &b);
  CHECK(idle.tail == &a);
  CHECK(a.deadline == t0 + 4s);
  CHECK(idle.size == 3);

  unlink(&c);  // from the middle
  CHECK(b.next == &a);
  CHECK(a.prev == &b);
  CHECK(c.list == nullptr);
  unlink(&c);  // twice: nothing happens
  CHECK(idle.size == 2);

  append(write, &b, t0 + 5s);  // from one list to another
  CHECK(idle.head == &a);
  CHECK(idle.size == 1);
  CHECK(write.head == &b);
  CHECK(b.list == &write);

  unlink(&a);
  unlink(&b);
  CHECK(idle.head == nullptr);
  CHECK(idle.tail == nullptr);
  CHECK(write.size == 0);
}
