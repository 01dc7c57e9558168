// The memory plan is data: these cases check it against hand-worked layouts.
#include "graph/memory_planner.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

bool Overlaps(const std::vector<BufferRequest>& r, const MemoryPlan& p, size_t i, size_t j) {
  bool time = r[i].first_step <= r[j].last_step && r[j].first_step <= r[i].last_step;
  bool space = p.offsets[i] < p.offsets[j] + r[j].bytes && p.offsets[j] < p.offsets[i] + r[i].bytes;
  return time && space && r[i].bytes && r[j].bytes;
}

TEST(MemoryPlannerTest, ChainReusesAlternatingBuffers) {
  // a(0..1) -> b(1..2) -> c(2..3) -> d(3..4): only two live at once, so two 1 KiB slots suffice.
  std::vector<BufferRequest> r = {{1024, 0, 1}, {1024, 1, 2}, {1024, 2, 3}, {1024, 3, 4}};
  MemoryPlan p = PlanMemory(r);
  EXPECT_EQ(p.total_bytes, 4096u);
  EXPECT_EQ(p.arena_bytes, 2048u);
  EXPECT_EQ(p.offsets[0], p.offsets[2]);
  EXPECT_EQ(p.offsets[1], p.offsets[3]);
  EXPECT_NE(p.offsets[0], p.offsets[1]);
}

TEST(MemoryPlannerTest, AllAliveNeedsTheSum) {
  std::vector<BufferRequest> r = {{100, 0, 5}, {200, 1, 5}, {300, 2, 5}};
  MemoryPlan p = PlanMemory(r);
  // Sizes round up to 64: 128 + 256 + 320.
  EXPECT_EQ(p.total_bytes, 704u);
  EXPECT_EQ(p.arena_bytes, 704u);
  for (size_t i = 0; i < r.size(); ++i)
    for (size_t j = i + 1; j < r.size(); ++j) EXPECT_FALSE(Overlaps(r, p, i, j));
}

TEST(MemoryPlannerTest, SmallBufferFillsGapLeftByLargeOnes) {
  // Big A (0..1) and big C (2..3) share offset 0; B (1..2) overlaps both and goes above; D (3..3) is small
  // and overlaps only C, so it fits where B was not... any valid layout must not exceed A+B.
  std::vector<BufferRequest> r = {{4096, 0, 1}, {1024, 1, 2}, {4096, 2, 3}, {512, 3, 3}};
  MemoryPlan p = PlanMemory(r);
  EXPECT_EQ(p.arena_bytes, 5120u);
  for (size_t i = 0; i < r.size(); ++i)
    for (size_t j = i + 1; j < r.size(); ++j) EXPECT_FALSE(Overlaps(r, p, i, j)) << i << " " << j;
  for (size_t off : p.offsets) EXPECT_EQ(off % kArenaAlignment, 0u);
}

TEST(MemoryPlannerTest, ZeroSizedAndEmpty) {
  EXPECT_EQ(PlanMemory({}).arena_bytes, 0u);
  MemoryPlan p = PlanMemory({{0, 0, 0}});
  EXPECT_EQ(p.arena_bytes, 0u);
}

}  // namespace
}  // namespace ferry
