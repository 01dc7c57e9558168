// Unit tests of the tensor kernel family (kernels/cpu/tensor_kernels.cc and the files beside it). Expected
// values are written out by hand from the ONNX spec, or computed by naive index loops in the test itself.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/cpu/tensor_util.h"
#include "tests/kernels/cpu/elementwise_test_util.h"

namespace ferry::cpu {
namespace {

using testing::KernelRun;
using testing::RunKernel;
using testing::Values;

Tensor I64(const Shape& s, std::vector<int64_t> v) { return Tensor::FromVector<int64_t>(s, v); }
Tensor I64(std::vector<int64_t> v) { return I64({static_cast<int64_t>(v.size())}, v); }
Tensor F32(const Shape& s, std::vector<float> v) { return Tensor::FromVector<float>(s, v); }
Tensor Iota(DataType t, const Shape& s) {
  Tensor x = Tensor::Allocate(t, s).value();
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (t == DataType::kFloat) x.as<float>()[i] = static_cast<float>(i);
    if (t == DataType::kInt32) x.as<int32_t>()[i] = static_cast<int32_t>(i);
    if (t == DataType::kInt64) x.as<int64_t>()[i] = i;
    if (t == DataType::kUInt8) x.as<uint8_t>()[i] = static_cast<uint8_t>(i);
  }
  return x;
}
Attributes Attr(const std::string& name, AttributeValue v) {
  Attributes a;
  a.Set(name, std::move(v));
  return a;
}
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// out[i_0..i_{r-1}] = x[perm-applied index], by explicit index arithmetic.
std::vector<float> NaiveTranspose(const Tensor& x, const std::vector<int64_t>& perm) {
  const Shape& s = x.shape();
  const int r = static_cast<int>(s.size());
  Shape os(r);
  for (int i = 0; i < r; ++i) os[i] = s[perm[i]];
  std::vector<int64_t> is = RowMajorStrides(s);
  std::vector<float> out(static_cast<size_t>(x.numel()));
  std::vector<int64_t> idx(r, 0);
  for (int64_t n = 0; n < x.numel(); ++n) {
    int64_t rem = n, off = 0;
    for (int d = r - 1; d >= 0; --d) {
      idx[d] = rem % os[d];
      rem /= os[d];
      off += idx[d] * is[perm[d]];
    }
    out[n] = x.as<float>()[off];
  }
  return out;
}

TEST(TransposeTest, DefaultReversesDims) {
  KernelRun r = RunKernel("Transpose", 13, {Iota(DataType::kInt32, {2, 3})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{0, 3, 1, 4, 2, 5}));
}

TEST(TransposeTest, MatchesNaiveLoopOnTiledAndRowPaths) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{37, 45}, {1, 0}},
      {{2, 3, 4, 5}, {0, 2, 1, 3}},
      {{2, 3, 4, 5}, {0, 3, 1, 2}},
      {{2, 9, 17, 3}, {0, 2, 3, 1}},
      {{3, 1, 70, 9}, {3, 2, 1, 0}},
      {{4, 5, 6}, {1, 2, 0}},
  };
  for (const auto& [shape, perm] : cases) {
    Tensor x = Iota(DataType::kFloat, shape);
    for (int threads : {1, 3}) {
      KernelRun r = RunKernel("Transpose", 13, {x}, Attr("perm", perm), 1, false, threads);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      EXPECT_EQ(Values<float>(r.outputs[0]), NaiveTranspose(x, perm)) << ShapeToString(shape);
    }
  }
}

TEST(TransposeTest, RefusesBadPerm) {
  EXPECT_FALSE(RunKernel("Transpose", 13, {Iota(DataType::kFloat, {2, 3})}, Attr("perm", std::vector<int64_t>{0, 0}))
                   .status.ok());
  EXPECT_FALSE(
      RunKernel("Transpose", 13, {Iota(DataType::kFloat, {2, 3})}, Attr("perm", std::vector<int64_t>{0})).status.ok());
}

TEST(SliceTest, SpecExamples) {
  Tensor x = Iota(DataType::kFloat, {2, 4});  // [[0,1,2,3],[4,5,6,7]]
  KernelRun r = RunKernel("Slice", 13, {x, I64({1, 0}), I64({2, 3}), I64({0, 1}), I64({1, 2})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{4, 6}));
  r = RunKernel("Slice", 13, {x, I64({0, 1}), I64({-1, 1000}), Tensor(), Tensor()}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 2, 3}));
}

TEST(SliceTest, NegativeStepsAndClamping) {
  Tensor x = Iota(DataType::kInt64, {5});
  auto run = [&](int64_t s, int64_t e, int64_t st) {
    KernelRun r = RunKernel("Slice", 13, {x, I64({s}), I64({e}), I64({0}), I64({st})}, {}, 1, true);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    return r.status.ok() ? Values<int64_t>(r.outputs[0]) : std::vector<int64_t>{-99};
  };
  EXPECT_EQ(run(kMax, kMin, -1), (std::vector<int64_t>{4, 3, 2, 1, 0}));
  EXPECT_EQ(run(-1, -4, -2), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(run(1, kMax, kMax), (std::vector<int64_t>{1}));
  EXPECT_EQ(run(3, 1, 1), (std::vector<int64_t>{}));
  // Per the spec, a start below -dim clamps to 0 when stepping backwards, so one element remains.
  EXPECT_EQ(run(kMin, kMin, -1), (std::vector<int64_t>{0}));
}

TEST(SliceTest, AttributesBeforeOpset10AndConstantInputsAfter) {
  Tensor x = Iota(DataType::kFloat, {3, 4});
  Attributes a;
  a.Set("starts", std::vector<int64_t>{1});
  a.Set("ends", std::vector<int64_t>{kMax});
  a.Set("axes", std::vector<int64_t>{-1});
  KernelRun r = RunKernel("Slice", 9, {x}, a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 3}));
  r = RunKernel("Slice", 13, {x, I64({1}), I64({2})}, {}, 1, /*known=*/false);
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status.message().find("must be a constant"), std::string::npos) << r.status.message();
}

TEST(ReshapeTest, ZeroAndMinusOne) {
  Tensor x = Iota(DataType::kFloat, {2, 3, 4});
  KernelRun r = RunKernel("Reshape", 13, {x, I64({0, -1})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 12}));
  EXPECT_EQ(Values<float>(r.outputs[0]), Values<float>(x));
  Tensor empty = Tensor::Allocate(DataType::kFloat, {0, 3}).value();
  r = RunKernel("Reshape", 14, {empty, I64({3, 0})}, Attr("allowzero", int64_t{1}), 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 0}));
  EXPECT_FALSE(RunKernel("Reshape", 13, {x, I64({5, -1})}, {}, 1, true).status.ok());
  EXPECT_FALSE(RunKernel("Reshape", 13, {x, I64({-1, -1})}, {}, 1, true).status.ok());
  EXPECT_FALSE(RunKernel("Reshape", 13, {x, I64({int64_t{1} << 40, int64_t{1} << 40})}, {}, 1, true).status.ok());
}

TEST(SqueezeTest, AxesAttributeThenInput) {
  Tensor x = Iota(DataType::kFloat, {1, 3, 1, 2});
  KernelRun r = RunKernel("Squeeze", 11, {x}, Attr("axes", std::vector<int64_t>{-2}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 3, 2}));
  r = RunKernel("Squeeze", 13, {x});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 2}));
  EXPECT_FALSE(RunKernel("Squeeze", 13, {x, I64({1})}, {}, 1, true).status.ok());  // dim 1 has size 3
  r = RunKernel("Unsqueeze", 13, {x, I64({-1, 0})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 3, 1, 2, 1}));
  EXPECT_FALSE(RunKernel("Unsqueeze", 13, {x, I64({0, -6})}, {}, 1, true).status.ok());  // repeated axis
}

TEST(ConcatSplitTest, RoundTripWithEmptyPiece) {
  Tensor a = Iota(DataType::kInt32, {2, 2});
  Tensor b = Tensor::Allocate(DataType::kInt32, {2, 0}).value();
  Tensor c = Iota(DataType::kInt32, {2, 1});
  KernelRun r = RunKernel("Concat", 13, {a, b, c}, Attr("axis", int64_t{-1}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<int32_t>(r.outputs[0]), (std::vector<int32_t>{0, 1, 0, 2, 3, 1}));
  KernelRun s = RunKernel("Split", 13, {r.outputs[0], I64({2, 0, 1})}, Attr("axis", int64_t{1}), 3, true);
  ASSERT_TRUE(s.status.ok()) << s.status.ToString();
  EXPECT_EQ(Values<int32_t>(s.outputs[0]), Values<int32_t>(a));
  EXPECT_EQ(s.outputs[1].shape(), (Shape{2, 0}));
  EXPECT_EQ(Values<int32_t>(s.outputs[2]), Values<int32_t>(c));
  // Equal split needs a divisible axis before opset 18.
  EXPECT_FALSE(RunKernel("Split", 13, {r.outputs[0]}, Attr("axis", int64_t{1}), 2).status.ok());
  EXPECT_FALSE(RunKernel("Split", 13, {r.outputs[0], I64({kMax, 4})}, Attr("axis", int64_t{1}), 2, true).status.ok());
}

TEST(GatherTest, NegativeIndicesAndOutOfRange) {
  Tensor x = Iota(DataType::kFloat, {3, 2});
  KernelRun r = RunKernel("Gather", 13, {x, I64({2}, {-1, 0})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{4, 5, 0, 1}));
  r = RunKernel("Gather", 13, {x, I64({}, {1})}, Attr("axis", int64_t{1}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 3, 5}));
  r = RunKernel("Gather", 13, {x, I64({1}, {3})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
  r = RunKernel("Gather", 13, {x, Tensor::FromVector<int32_t>({1}, {-4})});
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
}

TEST(GatherElementsTest, AlongAxisOne) {
  Tensor x = F32({2, 2}, {1, 2, 3, 4});
  KernelRun r = RunKernel("GatherElements", 13, {x, I64({2, 2}, {0, 0, 1, -2})}, Attr("axis", int64_t{1}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1, 4, 3}));
}

TEST(ScatterElementsTest, AddReductionWithDuplicates) {
  Tensor x = F32({1, 5}, {1, 2, 3, 4, 5});
  Attributes a = Attr("axis", int64_t{1});
  a.Set("reduction", std::string("add"));
  KernelRun r = RunKernel("ScatterElements", 16, {x, I64({1, 2}, {1, 1}), F32({1, 2}, {1.1f, 2.1f})}, a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_FLOAT_EQ(Values<float>(r.outputs[0])[1], 2 + 1.1f + 2.1f);
}

TEST(PadTest, ModesAndCrop) {
  Tensor x = F32({1, 3}, {1, 2, 3});
  auto run = [&](const std::string& mode, std::vector<int64_t> pads) {
    KernelRun r = RunKernel("Pad", 13, {x, I64(pads)}, Attr("mode", mode), 1, true);
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    return r.status.ok() ? Values<float>(r.outputs[0]) : std::vector<float>{};
  };
  EXPECT_EQ(run("constant", {0, 2, 0, 1}), (std::vector<float>{0, 0, 1, 2, 3, 0}));
  EXPECT_EQ(run("reflect", {0, 2, 0, 2}), (std::vector<float>{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(run("reflect", {0, 5, 0, 0}), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3}));
  EXPECT_EQ(run("edge", {0, 2, 0, 1}), (std::vector<float>{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(run("constant", {0, -1, 0, 1}), (std::vector<float>{2, 3, 0}));
  KernelRun r = RunKernel("Pad", 13, {x, I64({0, 1, 0, 0}), F32({}, {7})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{7, 1, 2, 3}));
  // Before opset 11: pads and value are attributes.
  Attributes a = Attr("pads", std::vector<int64_t>{0, 1, 0, 0});
  a.Set("value", 2.5f);
  r = RunKernel("Pad", 10, {x}, a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{2.5f, 1, 2, 3}));
  EXPECT_FALSE(RunKernel("Pad", 13, {x, I64({0, -4, 0, 0})}, {}, 1, true).status.ok());
  EXPECT_FALSE(RunKernel("Pad", 13, {x}, Attr("mode", std::string("wrap")), 1, true).status.ok());
}

TEST(ExpandTileTest, BroadcastAndRepeat) {
  Tensor x = F32({2, 1}, {1, 2});
  KernelRun r = RunKernel("Expand", 13, {x, I64({2, 1, 3})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2}));
  EXPECT_FALSE(RunKernel("Expand", 13, {x, I64({3, 3})}, {}, 1, true).status.ok());
  r = RunKernel("Tile", 13, {x, I64({2, 2})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2}));
  r = RunKernel("Tile", 13, {x, I64({0, 2})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{0, 2}));
}

TEST(RangeTest, IntegerAndFloat) {
  KernelRun r = RunKernel("Range", 11, {I64({}, {10}), I64({}, {-3}), I64({}, {-4})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{10, 6, 2, -2}));
  r = RunKernel("Range", 11, {I64({}, {0}), I64({}, {-1}), I64({}, {2})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].numel(), 0);
  r = RunKernel("Range", 11, {F32({}, {1}), F32({}, {2}), F32({}, {0.25f})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, 1.25f, 1.5f, 1.75f}));
  EXPECT_FALSE(RunKernel("Range", 11, {I64({}, {0}), I64({}, {5}), I64({}, {0})}, {}, 1, true).status.ok());
}

TEST(OneHotTest, NegativeAndOutOfRangeIndices) {
  KernelRun r = RunKernel("OneHot", 11, {I64({3}, {-1, 5, 0}), I64({}, {3}), F32({2}, {0, 9})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 0, 9, 0, 0, 0, 9, 0, 0}));
}

TEST(DepthSpaceTest, DcrCrdAndInverse) {
  Tensor x = Iota(DataType::kFloat, {1, 4, 1, 1});
  KernelRun r = RunKernel("DepthToSpace", 13, {x}, Attr("blocksize", int64_t{2}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 1, 2, 3}));
  Tensor y = Iota(DataType::kFloat, {1, 8, 1, 1});
  Attributes crd = Attr("blocksize", int64_t{2});
  crd.Set("mode", std::string("CRD"));
  r = RunKernel("DepthToSpace", 13, {y}, crd);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}));
  Attributes dcr = Attr("blocksize", int64_t{2});
  r = RunKernel("DepthToSpace", 13, {y}, dcr);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  // DCR: channel (i * 2 + j) * 2 + c lands at (c, i, j).
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 2, 4, 6, 1, 3, 5, 7}));
  KernelRun back = RunKernel("SpaceToDepth", 13, {r.outputs[0]}, dcr);
  ASSERT_TRUE(back.status.ok()) << back.status.ToString();
  EXPECT_EQ(Values<float>(back.outputs[0]), Values<float>(y));
}

TEST(TriluEyeLikeTest, Triangles) {
  Tensor x = Iota(DataType::kFloat, {3, 3});
  KernelRun r = RunKernel("Trilu", 14, {x, I64({}, {1})}, Attr("upper", int64_t{0}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 1, 0, 3, 4, 5, 6, 7, 8}));
  r = RunKernel("Trilu", 14, {x, I64({}, {kMin})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), Values<float>(x));
  Attributes a = Attr("k", int64_t{-1});
  a.Set("dtype", int64_t{10});  // float16
  r = RunKernel("EyeLike", 9, {x}, a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat16);
  EXPECT_EQ(Values<uint16_t>(r.outputs[0]), (std::vector<uint16_t>{0, 0, 0, 0x3C00, 0, 0, 0, 0x3C00, 0}));
}

TEST(ConstantTest, AttributesAndShape) {
  KernelRun r = RunKernel("Constant", 13, {}, Attr("value_ints", std::vector<int64_t>{4, 5}));
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{4, 5}));
  EXPECT_FALSE(RunKernel("Constant", 13, {}, Attr("value_string", std::string("x"))).status.ok());
  r = RunKernel("ConstantOfShape", 9, {I64({2, 1})}, {}, 1, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].dtype(), DataType::kFloat);
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{0, 0}));
  r = RunKernel("ConstantOfShape", 9, {I64({2})}, {}, 1, false);
  EXPECT_NE(r.status.message().find("must be a constant"), std::string::npos) << r.status.message();
  Attributes a = Attr("start", int64_t{-2});
  r = RunKernel("Shape", 15, {Iota(DataType::kUInt8, {2, 3, 4})}, a);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<int64_t>(r.outputs[0]), (std::vector<int64_t>{3, 4}));
}

TEST(DropoutTest, InferenceIsIdentityWithAllKeptMask) {
  Tensor x = F32({2}, {1, -2});
  KernelRun r = RunKernel("Dropout", 7, {x}, Attr("ratio", 0.5f), 2);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Values<float>(r.outputs[0]), (std::vector<float>{1, -2}));
  EXPECT_EQ(Values<float>(r.outputs[1]), (std::vector<float>{1, 1}));  // before opset 10 the mask has type T
  r = RunKernel("Dropout", 13, {x, F32({}, {0.5f})}, {}, 2, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[1].dtype(), DataType::kBool);
  EXPECT_EQ(Values<bool>(r.outputs[1]), (std::vector<bool>{true, true}));
}

TEST(DropoutTest, TrainingModeOnlyFromAConstantAndOnlyFalseOrRatioZero) {
  KernelDef def;
  def.op_type = "Dropout";
  def.opset = 13;
  def.input_types = {DataType::kFloat, DataType::kFloat, DataType::kBool};
  def.input_present = {true, true, true};
  def.num_outputs = 1;
  EXPECT_EQ(CpuKernelTable().Find("Dropout", 13)->create(def).status().code(), StatusCode::kUnimplemented);
  def.input_constant = {false, true, true};
  auto kernel = CpuKernelTable().Find("Dropout", 13)->create(def);
  ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
  Tensor x = F32({2}, {1, -2});
  for (float ratio : {0.5f, 0.f}) {
    Tensor r = F32({}, {ratio});
    Tensor t = Tensor::FromVector<bool>({}, {true});
    KernelContext ctx;
    ctx.inputs_ = {x.view(), r.view(), t.view()};
    ctx.present_ = {true, true, true};
    ctx.outputs_.resize(1);
    // Training with a nonzero ratio is random: refused. With ratio 0 it is the identity.
    EXPECT_EQ((*kernel)->Prepare(ctx).ok(), ratio == 0.f);
  }
}

TEST(TensorUtilTest, HalfAndBFloat16Rounding) {
  EXPECT_EQ(FloatToHalfBits(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalfBits(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalfBits(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalfBits(65520.0f), 0x7C00);            // halfway to the next (infinite) step rounds to inf
  EXPECT_EQ(FloatToHalfBits(5.9604645e-8f), 0x0001);       // 2^-24, the smallest subnormal
  EXPECT_EQ(FloatToHalfBits(2.9802322e-8f), 0x0000);       // 2^-25 ties to even (zero)
  EXPECT_EQ(FloatToHalfBits(1.0f + 1.0f / 2048), 0x3C00);  // tie between 0x3C00 and 0x3C01 -> even
  EXPECT_EQ(FloatToHalfBits(1.0f + 3.0f / 2048), 0x3C02);  // tie between 0x3C01 and 0x3C02 -> even
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToHalfBits(std::numeric_limits<float>::quiet_NaN()) & 0x7C00, 0x7C00);
  EXPECT_NE(FloatToHalfBits(std::numeric_limits<float>::quiet_NaN()) & 0x03FF, 0);
  EXPECT_EQ(FloatToBFloat16Bits(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBFloat16Bits(1.0f + 1.0f / 256), 0x3F80);
  EXPECT_EQ(FloatToBFloat16Bits(1.0f + 3.0f / 256), 0x3F82);
}

}  // namespace
}  // namespace ferry::cpu
