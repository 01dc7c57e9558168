// OperationQueue: bounded, runs everything it accepted on its own threads, survives throwing operations.
#include "api/operation_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>

namespace ferry::api {
namespace {

TEST(OperationQueue, RefusesBeyondItsBoundAndRunsWhatItAccepted) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::set<std::thread::id> threads;
  std::mutex mu;
  {
    OperationQueue q(/*threads=*/1, /*max_queued=*/3);
    auto op = [&] {
      released.wait();
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      ++ran;
    };
    ASSERT_TRUE(q.Submit(op));  // taken by the worker (or still queued)
    // Wait until the worker holds the first one, so the queue's contents are known.
    for (int i = 0; i < 1000 && q.queued() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_TRUE(q.Submit(op));
    EXPECT_TRUE(q.Submit(op));
    EXPECT_TRUE(q.Submit(op));
    EXPECT_FALSE(q.Submit(op)) << "a fourth waiting operation is refused";
    EXPECT_EQ(q.queued(), 3u);
    release.set_value();
  }  // the destructor runs what was queued, then joins
  EXPECT_EQ(ran.load(), 4);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(OperationQueue, AThrowingOperationDoesNotStopTheWorkers) {
  std::atomic<int> ran{0};
  {
    OperationQueue q(2, 16);
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(q.Submit([&, i] {
        ++ran;
        if (i % 2 == 0) throw std::runtime_error("boom");
      }));
    }
  }
  EXPECT_EQ(ran.load(), 8);
}

}  // namespace
}  // namespace ferry::api
