// Unit tests of the reduce kernel family (kernels/cpu/reduce_kernels.cc and the files beside it). Expected
// values are written out by hand from the ONNX spec, or computed by naive index loops in the test itself.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "tests/kernels/cpu/elementwise_test_util.h"

namespace ferry::cpu {
namespace {

using testing::KernelRun;
using testing::RunKernel;
using testing::Values;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor F32(const Shape& s, std::vector<float> v) { return Tensor::FromVector<float>(s, v); }
Tensor I64(std::vector<int64_t> v) { return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v); }
Tensor Scalar64(int64_t v) { return Tensor::FromVector<int64_t>({}, {v}); }
Attributes Attrs(std::initializer_list<std::pair<const char*, AttributeValue>> kv) {
  Attributes a;
  for (const auto& [k, v] : kv) a.Set(k, v);
  return a;
}
// Deterministic values in [-1, 1) with no exact ties.
Tensor Pseudo(const Shape& s) {
  Tensor x = Tensor::Allocate(DataType::kFloat, s).value();
  for (int64_t i = 0; i < x.numel(); ++i) x.as<float>()[i] = static_cast<float>((i * 7919 + 13) % 2003) / 1001.5f - 1.f;
  return x;
}

// Sum over `axes` (keepdims) by visiting every input element once.
std::vector<double> NaiveSum(const Tensor& x, const std::vector<int64_t>& axes) {
  const Shape& s = x.shape();
  Shape os = s;
  for (int64_t a : axes) os[a] = 1;
  std::vector<double> out(static_cast<size_t>(NumElements(os)), 0.0);
  std::vector<int64_t> ostr = RowMajorStrides(os);
  for (int64_t n = 0; n < x.numel(); ++n) {
    int64_t rem = n, off = 0;
    for (int d = static_cast<int>(s.size()) - 1; d >= 0; --d) {
      const int64_t i = rem % s[d];
      rem /= s[d];
      if (os[d] != 1) off += i * ostr[d];
    }
    out[off] += x.as<float>()[n];
  }
  return out;
}

TEST(ReduceTest, SumMatchesNaiveLoopOnEveryAxisPattern) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{3, 4, 5}, {1}},       {{3, 4, 5}, {0, 2}},          {{3, 4, 5}, {2}},          {{3, 4, 5}, {0}},
      {{2, 1, 6, 7}, {1, 2}}, {{2, 3, 4, 5, 6}, {0, 2, 4}}, {{2, 3, 4, 5, 6}, {1, 3}}, {{600, 700}, {0}},
      {{600, 700}, {1}},      {{600, 700}, {0, 1}},         {{8, 300, 300}, {1}},      {{9000, 3}, {0}},
  };
  for (const auto& [shape, axes] : cases) {
    Tensor x = Pseudo(shape);
    const std::vector<double> want = NaiveSum(x, axes);
    for (int threads : {1, 3}) {
      KernelRun r = RunKernel("ReduceSum", 11, {x}, Attrs({{"axes", axes}}), 1, false, threads);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      std::vector<float> got = Values<float>(r.outputs[0]);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-3 + 1e-4 * std::fabs(want[i])) << ShapeToString(shape) << " element " << i;
      }
    }
  }
}

TEST(ReduceTest, KeepdimsAndNegativeAndDefaultAxes) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  KernelRun r = RunKernel("ReduceMean", 13, {x}, Attrs({{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{0}}}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{2, 5}));
  r = RunKernel("ReduceMax", 13, {x});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{6}));
  r = RunKernel("ReduceSumSquare", 13, {x}, Attrs({{"axes", std::vector<int64_t>{0}}}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{17, 29, 45}));
  r = RunKernel("ReduceL1", 13, {F32({2}, {-3, 4})});
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{7}));
  r = RunKernel("ReduceL2", 13, {F32({2}, {-3, 4})});
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{5}));
  r = RunKernel("ReduceProd", 13, {x}, Attrs({{"axes", std::vector<int64_t>{1}}}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{6, 120}));
}

TEST(ReduceTest, SumOpset13TakesAxesInput) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  KernelRun r = RunKernel("ReduceSum", 13, {x, I64({0})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{5, 7, 9}));
  // Empty axes: all axes, or the input itself with noop_with_empty_axes.
  r = RunKernel("ReduceSum", 13, {x, I64({})}, {}, 1, true);
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{21}));
  r = RunKernel("ReduceSum", 13, {x, I64({})}, Attrs({{"noop_with_empty_axes", int64_t{1}}}), 1, true);
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  // The axes fix the output shape, so an unknown axes input is refused.
  r = RunKernel("ReduceSum", 13, {x, I64({0})}, {}, 1, false);
  EXPECT_FALSE(r.status.ok());
}

TEST(ReduceTest, IntegerTypes) {
  Tensor x = Tensor::FromVector<int32_t>({3}, {std::numeric_limits<int32_t>::max(), 1, 5});
  KernelRun r = RunKernel("ReduceSum", 13, {x, I64({0})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{std::numeric_limits<int32_t>::min() + 5}));
  r = RunKernel("ReduceMean", 13, {Tensor::FromVector<int64_t>({3}, {-7, 0, 0})});
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{-2}));  // truncated toward zero
  r = RunKernel("ReduceMin", 13, {Tensor::FromVector<int8_t>({3}, {5, -100, 7})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int8_t>(r.outputs[0]), (std::vector<int8_t>{-100}));
  // uint8 sums are not served (the spec's ReduceSum has no 8-bit types).
  EXPECT_FALSE(RunKernel("ReduceSum", 11, {Tensor::FromVector<uint8_t>({1}, {1})}).status.ok());
}

TEST(ReduceTest, EmptyReductionsGiveTheIdentity) {
  Tensor e = Tensor::Allocate(DataType::kFloat, {0, 3}).value();
  Attributes a = Attrs({{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{0}}});
  EXPECT_EQ(Values<float>(RunKernel("ReduceSum", 11, {e}, a).outputs[0]), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(Values<float>(RunKernel("ReduceProd", 11, {e}, a).outputs[0]), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(Values<float>(RunKernel("ReduceMax", 11, {e}, a).outputs[0]), (std::vector<float>{-kInf, -kInf, -kInf}));
}

TEST(ReduceTest, LogSumExpIsStableAndHandlesInfinities) {
  Tensor x = F32({4, 3}, {1000, 1000, 1000, kInf, 1, 2, -kInf, -kInf, -kInf, -kInf, 0, 0});
  KernelRun r = RunKernel("ReduceLogSumExp", 13, {x}, Attrs({{"axes", std::vector<int64_t>{1}}}));
  ASSERT_TRUE(r.status.ok());
  std::vector<float> got = Values<float>(r.outputs[0]);
  EXPECT_NEAR(got[0], 1000 + std::log(3.f), 1e-3);
  EXPECT_EQ(got[1], kInf);
  EXPECT_EQ(got[2], -kInf);
  EXPECT_NEAR(got[3], std::log(2.f), 1e-6);
  r = RunKernel("ReduceLogSum", 13, {F32({2}, {1, 2})});
  EXPECT_NEAR(Values<float>(r.outputs[0])[0], std::log(3.f), 1e-6);
}

TEST(ReduceTest, RefusesBadAxes) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_FALSE(RunKernel("ReduceSum", 11, {x}, Attrs({{"axes", std::vector<int64_t>{2}}})).status.ok());
  EXPECT_FALSE(RunKernel("ReduceSum", 11, {x}, Attrs({{"axes", std::vector<int64_t>{1, -1}}})).status.ok());
  EXPECT_FALSE(RunKernel("ReduceSum", 13, {x}, Attrs({{"axes", std::vector<int64_t>{1}}})).status.ok());
}

TEST(ArgMaxTest, TiesAndSelectLastIndex) {
  Tensor x = F32({2, 4}, {1, 3, 3, 0, 2, 2, 1, 2});
  KernelRun r = RunKernel("ArgMax", 13, {x}, Attrs({{"axis", int64_t{1}}}));
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kInt64);
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{1, 0}));
  r = RunKernel("ArgMax", 13, {x}, Attrs({{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{2, 3}));
  r = RunKernel("ArgMin", 13, {x}, Attrs({{"axis", int64_t{0}}, {"keepdims", int64_t{0}}}));
  EXPECT_EQ(r.outputs[0].shape(), (Shape{4}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{0, 1, 1, 0}));
  r = RunKernel("ArgMin", 13, {x},
                Attrs({{"axis", int64_t{-2}}, {"keepdims", int64_t{0}}, {"select_last_index", int64_t{1}}}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(ArgMaxTest, NaNWinsAsInNumpy) {
  std::vector<float> row(40, 1.f);
  row[7] = kNaN;
  row[30] = kNaN;
  row[20] = 5.f;
  KernelRun r = RunKernel("ArgMax", 13, {F32({40}, row)});
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{7}));
  r = RunKernel("ArgMax", 13, {F32({40}, row)}, Attrs({{"select_last_index", int64_t{1}}}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{30}));
  // The same column-wise (axis 0 of a [40, 2] input).
  std::vector<float> cols;
  for (float v : row) cols.insert(cols.end(), {v, -v});
  r = RunKernel("ArgMax", 13, {F32({40, 2}, cols)}, Attrs({{"keepdims", int64_t{0}}}));
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{7, 7}));
}

TEST(TopKTest, LargestSmallestAndTies) {
  Tensor x = F32({2, 5}, {3, 1, 3, 5, 1, 0, 0, 0, 2, 2});
  KernelRun r = RunKernel("TopK", 11, {x, I64({3})}, {}, 2, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{5, 3, 3, 2, 2, 0}));
  EXPECT_EQ(Values<int64_t>(r.outputs[1]), (std::vector<int64_t>{3, 0, 2, 3, 4, 0}));
  r = RunKernel("TopK", 11, {x, I64({2})}, Attrs({{"largest", int64_t{0}}}), 2, true);
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1, 0, 0}));
  EXPECT_EQ(Values<int64_t>(r.outputs[1]), (std::vector<int64_t>{1, 4, 0, 1}));
  // Along axis 0, and K as an attribute before opset 10.
  r = RunKernel("TopK", 9, {x}, Attrs({{"axis", int64_t{0}}, {"k", int64_t{1}}}), 2);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{3, 1, 3, 5, 2}));
  EXPECT_EQ(Values<int64_t>(r.outputs[1]), (std::vector<int64_t>{0, 0, 0, 0, 1}));
}

TEST(TopKTest, RefusesUnknownOrOutOfRangeK) {
  Tensor x = F32({5}, {3, 1, 3, 5, 1});
  EXPECT_FALSE(RunKernel("TopK", 11, {x, I64({3})}, {}, 2, false).status.ok());
  EXPECT_FALSE(RunKernel("TopK", 11, {x, I64({6})}, {}, 2, true).status.ok());
  EXPECT_FALSE(RunKernel("TopK", 11, {x, I64({-1})}, {}, 2, true).status.ok());
}

TEST(CumSumTest, ExclusiveAndReverse) {
  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  KernelRun r = RunKernel("CumSum", 14, {x, Scalar64(1)});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 3, 6, 4, 9, 15}));
  r = RunKernel("CumSum", 14, {x, Scalar64(-1)}, Attrs({{"exclusive", int64_t{1}}, {"reverse", int64_t{1}}}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{5, 3, 0, 11, 6, 0}));
  r = RunKernel("CumSum", 14, {x, Scalar64(0)}, Attrs({{"reverse", int64_t{1}}}), 1, true);
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{5, 7, 9, 4, 5, 6}));
  EXPECT_FALSE(RunKernel("CumSum", 14, {x, Scalar64(2)}).status.ok());
}

Tensor Scales(std::vector<float> s) { return Tensor::FromVector<float>({static_cast<int64_t>(s.size())}, s); }

TEST(ResizeTest, LinearHalfPixelAndAlignCorners) {
  Tensor x = F32({1, 2}, {1, 2});
  KernelRun r =
      RunKernel("Resize", 13, {x, Tensor(), Scales({1, 2})}, Attrs({{"mode", std::string("linear")}}), 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 4}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1.25f, 1.75f, 2}));
  r = RunKernel(
      "Resize", 13, {x, Tensor(), Scales({1, 2})},
      Attrs({{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("align_corners")}}), 1,
      true);
  std::vector<float> got = Values<float>(r.outputs[0]);
  const std::vector<float> want = {1, 4.f / 3, 5.f / 3, 2};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-6);
  // Bilinear on 2-D: separable passes give the product of the 1-D weights.
  r = RunKernel(
      "Resize", 13, {F32({2, 2}, {0, 1, 2, 3}), Tensor(), Tensor(), I64({3, 3})},
      Attrs({{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("align_corners")}}), 1,
      true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3}));
}

TEST(ResizeTest, NearestModes) {
  Tensor x = F32({4}, {10, 20, 30, 40});
  // half_pixel, 4 -> 3: x_original = (j + 0.5) * 4 / 3 - 0.5 = 0.1667, 1.5, 2.8333.
  auto run = [&](const char* mode) {
    return Values<float>(RunKernel("Resize", 13, {x, Tensor(), Tensor(), I64({3})},
                                   Attrs({{"nearest_mode", std::string(mode)}}), 1, true)
                             .outputs[0]);
  };
  EXPECT_EQ(run("round_prefer_floor"), (std::vector<float>{10, 20, 40}));
  EXPECT_EQ(run("round_prefer_ceil"), (std::vector<float>{10, 30, 40}));
  EXPECT_EQ(run("floor"), (std::vector<float>{10, 20, 30}));
  EXPECT_EQ(run("ceil"), (std::vector<float>{20, 30, 40}));
  // Any element type moves through the nearest gather.
  KernelRun r = RunKernel("Resize", 13, {Tensor::FromVector<int64_t>({1, 2}, {7, 8}), Tensor(), Scales({2, 2})},
                          Attrs({{"mode", std::string("nearest")}}), 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{7, 7, 8, 8, 7, 7, 8, 8}));
}

TEST(ResizeTest, CubicKeepsConstantsAndRefusesAmbiguousCases) {
  Tensor x = F32({3, 3}, std::vector<float>(9, 2.5f));
  KernelRun r = RunKernel("Resize", 13, {x, Tensor(), Scales({1.7f, 2.3f})},
                          Attrs({{"mode", std::string("cubic")}, {"exclude_outside", int64_t{1}}}), 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{5, 6}));
  for (float v : Values<float>(r.outputs[0])) EXPECT_NEAR(v, 2.5f, 1e-5);
  r = RunKernel(
      "Resize", 13, {x, Tensor(), Tensor(), I64({1, 3})},
      Attrs({{"mode", std::string("cubic")}, {"coordinate_transformation_mode", std::string("pytorch_half_pixel")}}), 1,
      true);
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(
      RunKernel("Resize", 10, {x, Scales({1, 2})}, Attrs({{"mode", std::string("cubic")}}), 1, true).status.ok());
  EXPECT_FALSE(RunKernel("Resize", 13, {x, Tensor(), Scales({1, 2})}, Attrs({{"mode", std::string("area")}}), 1, true)
                   .status.ok());
  // Linear on integers is not served; scales must be known in Prepare.
  EXPECT_FALSE(RunKernel("Resize", 13, {Tensor::FromVector<int32_t>({1}, {1}), Tensor(), Scales({2})},
                         Attrs({{"mode", std::string("linear")}}), 1, true)
                   .status.ok());
  EXPECT_FALSE(RunKernel("Resize", 13, {x, Tensor(), Scales({1, 2})}, {}, 1, false).status.ok());
}

TEST(ResizeTest, HugeSizesBesideAnEmptyAxisAreRefusedNotAllocated) {
  // The output [0, 2^50] is empty, so the element count stays 0; the long axis must still be refused (it used to
  // build a 2^50-entry axis plan and end the process with bad_alloc).
  KernelRun r = RunKernel("Resize", 13, {F32({0, 4}, {}), Tensor(), Tensor(), I64({0, int64_t{1} << 50})},
                          Attrs({{"mode", std::string("nearest")}}), 1, true);
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("sizes[1]"), std::string::npos) << r.status.ToString();
  // A 4-element input resized to [1, 1, 1, 2^30] would build 17 GiB of interpolation tables at load: refused.
  r = RunKernel("Resize", 13, {F32({1, 1, 1, 1}, {1}), Tensor(), Tensor(), I64({1, 1, 1, int64_t{1} << 30})},
                Attrs({{"mode", std::string("nearest")}}), 1, true);
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("interpolation tables"), std::string::npos) << r.status.ToString();
  // An empty output of reasonable axes is fine and builds nothing.
  r = RunKernel("Resize", 13, {F32({0, 4}, {}), Tensor(), Tensor(), I64({0, 1 << 20})},
                Attrs({{"mode", std::string("linear")}}), 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0, 1 << 20}));
}

TEST(ResizeTest, TfCropAndResizeExtrapolates) {
  // roi [0.5, 1.5] on a length-3 axis, 3 outputs: x_original = 1, 2, 3; 3 is outside [0, 2].
  Tensor x = F32({3}, {0, 10, 20});
  Tensor roi = Tensor::FromVector<float>({2}, {0.5f, 1.5f});
  KernelRun r = RunKernel("Resize", 13, {x, roi, Tensor(), I64({3})},
                          Attrs({{"mode", std::string("linear")},
                                 {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                                 {"extrapolation_value", -1.f}}),
                          1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{10, 20, -1}));
}

TEST(UpsampleTest, LegacyNearestFloorsUpAndCeilsDown) {
  Tensor x = F32({1, 2}, {1, 2});
  KernelRun r = RunKernel("Upsample", 7, {x}, Attrs({{"scales", std::vector<float>{1, 3}}}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1, 1, 2, 2, 2}));
  r = RunKernel("Upsample", 9, {x, Scales({1, 2})}, Attrs({{"mode", std::string("linear")}}), 1, true);
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1.5f, 2, 2}));
  // Resize-10 downsampling: x_original = j / 0.6 = 0, 1.67, 3.33 -> ceil -> 0, 2, 4.
  r = RunKernel("Resize", 10, {F32({5}, {0, 1, 2, 3, 4}), Scales({0.6f})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 2, 4}));
}

}  // namespace
}  // namespace ferry::cpu
