// DecideBatch as a table: queues, times and settings in, the decision out, all written by hand.
#include "scheduler/batch_policy.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using std::chrono::microseconds;

const Clock::TimePoint T0 = Clock::TimePoint() + std::chrono::seconds(100);

QueuedItem Item(int64_t rows, int64_t enqueued_us, std::string key = "k", Clock::TimePoint deadline = Clock::kNever) {
  return QueuedItem{rows, std::move(key), T0 + microseconds(enqueued_us), deadline};
}

BatchingSettings Dynamic(int64_t max, int64_t delay_us, std::vector<int64_t> preferred = {}) {
  return BatchingSettings{max, true, delay_us, std::move(preferred)};
}

TEST(BatchPolicy, EmptyQueueWaitsForever) {
  BatchDecision d = DecideBatch({}, T0, Dynamic(8, 100));
  EXPECT_TRUE(d.run.empty());
  EXPECT_TRUE(d.expired.empty());
  EXPECT_EQ(d.wake, Clock::kNever);
}

TEST(BatchPolicy, WithoutBatchingTheOldestRunsAlone) {
  std::deque<QueuedItem> q{Item(1, 0), Item(1, 1), Item(1, 2)};
  BatchDecision d = DecideBatch(q, T0 + microseconds(5), BatchingSettings{8, false, 1000, {}});
  EXPECT_EQ(d.run, std::vector<size_t>{0});
}

TEST(BatchPolicy, WaitsForCompanyUntilTheDelayEnds) {
  std::deque<QueuedItem> q{Item(1, 0), Item(2, 10)};
  BatchDecision d = DecideBatch(q, T0 + microseconds(50), Dynamic(8, 100));
  EXPECT_TRUE(d.run.empty());
  EXPECT_EQ(d.wake, T0 + microseconds(100));
  d = DecideBatch(q, T0 + microseconds(100), Dynamic(8, 100));
  EXPECT_EQ(d.run, (std::vector<size_t>{0, 1}));
}

TEST(BatchPolicy, ZeroDelayNeverWaits) {
  std::deque<QueuedItem> q{Item(1, 0)};
  BatchDecision d = DecideBatch(q, T0, Dynamic(8, 0));
  EXPECT_EQ(d.run, std::vector<size_t>{0});
}

TEST(BatchPolicy, AFullBatchRunsAtOnceAndOnlyWhatFits) {
  // 3 + 4 = 7 rows; the 2-row request would make 9 > 8, the 1-row one after it fits: 8 rows, full.
  std::deque<QueuedItem> q{Item(3, 0), Item(4, 1), Item(2, 2), Item(1, 3)};
  BatchDecision d = DecideBatch(q, T0 + microseconds(4), Dynamic(8, 1000));
  EXPECT_EQ(d.run, (std::vector<size_t>{0, 1, 3}));
}

TEST(BatchPolicy, OnlyCompatibleShapesCombine) {
  std::deque<QueuedItem> q{Item(1, 0, "a"), Item(1, 1, "b"), Item(1, 2, "a")};
  BatchDecision d = DecideBatch(q, T0 + microseconds(1000), Dynamic(8, 1000));
  EXPECT_EQ(d.run, (std::vector<size_t>{0, 2}));
}

TEST(BatchPolicy, PreferredSizeRunsWithoutWaiting) {
  // Rows 1, 1, 1: prefix sums 1, 2, 3; preferred {2, 4}: the largest matching prefix is 2.
  std::deque<QueuedItem> q{Item(1, 0), Item(1, 1), Item(1, 2)};
  BatchDecision d = DecideBatch(q, T0 + microseconds(3), Dynamic(8, 1000, {2, 4}));
  EXPECT_EQ(d.run, (std::vector<size_t>{0, 1}));
  // No prefix matches {4}: wait for the delay.
  d = DecideBatch(q, T0 + microseconds(3), Dynamic(8, 1000, {4}));
  EXPECT_TRUE(d.run.empty());
  EXPECT_EQ(d.wake, T0 + microseconds(1000));
}

TEST(BatchPolicy, ExpiredRequestsAreReportedAndSkipped) {
  std::deque<QueuedItem> q{Item(1, 0, "k", T0 + microseconds(20)), Item(1, 5), Item(1, 6, "k", T0 + microseconds(900))};
  BatchDecision d = DecideBatch(q, T0 + microseconds(30), Dynamic(8, 100));
  EXPECT_EQ(d.expired, std::vector<size_t>{0});
  EXPECT_TRUE(d.run.empty());
  // The new oldest arrived at 5 us: its delay ends at 105 us, before the deadline at 900 us.
  EXPECT_EQ(d.wake, T0 + microseconds(105));
}

TEST(BatchPolicy, WakesAtTheEarliestDeadlineWhenItComesFirst) {
  std::deque<QueuedItem> q{Item(1, 0), Item(1, 1, "k", T0 + microseconds(40))};
  BatchDecision d = DecideBatch(q, T0 + microseconds(10), Dynamic(8, 100));
  EXPECT_TRUE(d.run.empty());
  EXPECT_EQ(d.wake, T0 + microseconds(40));
}

}  // namespace
}  // namespace ferry
