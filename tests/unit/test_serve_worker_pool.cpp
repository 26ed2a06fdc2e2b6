#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "catch.hpp"
#include "serve/worker_pool.hpp"

using namespace devops;
using namespace std::chrono_literals;

namespace {

// A gate the jobs wait at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

template <class F>
bool eventually(F f) {
  for (int i = 0; i < 2000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

}  // namespace

TEST_CASE("every blocked job gets its own thread, up to the cap") {
  serve::WorkerPool pool(4, 10s);
  Gate gate;
  std::atomic<int> running{0};
  for (int i = 0; i < 6; ++i) {
    REQUIRE(pool.submit([&] {
      ++running;
      gate.wait();
    }));
  }
  CHECK(eventually([&] { return running.load() == 4; }));
  CHECK(pool.threads() == 4);
  CHECK(pool.queued() == 2);
  gate.release();
  CHECK(eventually([&] { return running.load() == 6; }));
  pool.shutdown();
  CHECK_FALSE(pool.submit([] {}));
}

TEST_CASE("idle threads exit, one stays") {
  serve::WorkerPool pool(8, 50ms, 1);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 5; ++i) {
    pool.submit([&] {
      gate.wait();
      ++done;
    });
  }
  CHECK(eventually([&] { return pool.threads() == 5; }));
  gate.release();
  CHECK(eventually([&] { return done.load() == 5; }));
  CHECK(eventually([&] { return pool.threads() == 1; }));
  // And it still works.
  std::atomic<bool> ran{false};
  pool.submit([&] { ran = true; });
  CHECK(eventually([&] { return ran.load(); }));
}

TEST_CASE("shutdown runs what is queued, then joins") {
  std::atomic<int> done{0};
  {
    serve::WorkerPool pool(1, 10s);
    for (int i = 0; i < 20; ++i) pool.submit([&] { ++done; });
    pool.shutdown();
    CHECK(done.load() == 20);
    CHECK(pool.threads() == 0);
  }
}
