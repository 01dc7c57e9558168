#include "kernels/cpu/broadcast.h"

#include <gtest/gtest.h>

#include <random>

namespace ferry::cpu {
namespace {

TEST(MultiBroadcastShape, NumpyRules) {
  EXPECT_EQ(*MultiBroadcastShape({{2, 3, 4}, {4}}), (Shape{2, 3, 4}));
  EXPECT_EQ(*MultiBroadcastShape({{2, 1, 4}, {3, 1}}), (Shape{2, 3, 4}));
  EXPECT_EQ(*MultiBroadcastShape({{}, {5}}), (Shape{5}));
  EXPECT_EQ(*MultiBroadcastShape({{1}, {0}}), (Shape{0}));
  EXPECT_EQ(*MultiBroadcastShape({{2, 1}, {1, 3}, {4, 1, 1}}), (Shape{4, 2, 3}));
  EXPECT_FALSE(MultiBroadcastShape({{2, 3}, {4}}).ok());
  EXPECT_FALSE(MultiBroadcastShape({{0}, {2}}).ok());
}

TEST(MultiBroadcastPlan, MergesChannelBroadcast) {
  auto plan = MakeMultiBroadcastPlan({{2, 3, 4, 5}, {1, 3, 1, 1}}, {2, 3, 4, 5});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->row, 20);
  EXPECT_EQ(plan->row_stride[0], 1);
  EXPECT_EQ(plan->row_stride[1], 0);
  EXPECT_EQ(plan->outer_dims, (std::vector<int64_t>{2, 3}));
}

TEST(MultiBroadcastPlan, SameShapeIsOneRun) {
  auto plan = MakeMultiBroadcastPlan({{2, 3, 4}, {2, 3, 4}}, {2, 3, 4});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->row, 24);
  EXPECT_TRUE(plan->outer_dims.empty());
}

TEST(MultiBroadcastPlan, RejectsWhatDoesNotBroadcast) {
  EXPECT_FALSE(MakeMultiBroadcastPlan({{3}}, {2, 4}).ok());
  EXPECT_FALSE(MakeMultiBroadcastPlan({{1, 2, 4}}, {2, 4}).ok());
}

// Every output element must read the input elements numpy's rule names, for random shapes and thread counts.
TEST(ForEachBroadcastRun, MatchesNaiveIndexing) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    const int rank = static_cast<int>(rng() % 5);
    Shape out(rank);
    for (auto& d : out) d = 1 + static_cast<int64_t>(rng() % 6);
    if (iter % 50 == 0 && rank > 0) out[0] = 200;  // big enough to thread
    std::vector<Shape> ins(3);
    for (auto& s : ins) {
      const int r = static_cast<int>(rng() % (rank + 1));
      for (int i = rank - r; i < rank; ++i) s.push_back(rng() % 3 == 0 ? 1 : out[i]);
    }
    auto plan = MakeMultiBroadcastPlan(ins, out);
    ASSERT_TRUE(plan.ok());
    const int64_t total = NumElements(out);
    std::vector<std::array<int64_t, 3>> seen(total, {-1, -1, -1});
    ForEachBroadcastRun(*plan, 1 + iter % 3, 64, [&](int64_t o, const int64_t* in, int64_t len) {
      for (int64_t i = 0; i < len; ++i) {
        for (int k = 0; k < 3; ++k) seen[o + i][k] = in[k] + i * plan->row_stride[k];
      }
    });
    for (int64_t flat = 0; flat < total; ++flat) {
      int64_t rem = flat;
      std::vector<int64_t> idx(rank);
      for (int d = rank - 1; d >= 0; --d) {
        idx[d] = rem % out[d];
        rem /= out[d];
      }
      for (int k = 0; k < 3; ++k) {
        const Shape& s = ins[k];
        int64_t off = 0;
        for (size_t d = 0; d < s.size(); ++d) off = off * s[d] + (s[d] == 1 ? 0 : idx[rank - s.size() + d]);
        ASSERT_EQ(seen[flat][k], off) << "iter " << iter << " element " << flat << " input " << k;
      }
    }
  }
}

}  // namespace
}  // namespace ferry::cpu
