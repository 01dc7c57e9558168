// The device parity suite (llama.cpp's test-backend-ops): every op of the CPU kernel table, run on small graphs
// with random shapes and seeded random inputs, once on the CPU alone and again with a simulated device preferred:
// for every node, for the op alone (its neighbours on the CPU) and for its neighbours alone (the op on the CPU),
// so copies run both ways. The CPU's answer is the expected value here: the CPU itself is checked against the
// ONNX conformance data (tests/conformance), and this suite checks that placement, copies, streams and device
// memory do not change it. Multi-node graphs are in device_parity_graphs_test.cc.
//
// Tolerance: none. The simulated device runs the CPU's own kernels, single-threaded, and the CPU sessions here
// run single-threaded too, so every output must be bitwise equal (NaN matching NaN). A difference is a bug in the
// device machinery (a stale read, a missing wait, a wrong copy), never rounding. DeviceParityThreads shows what
// changes with the CPU at 4 threads.
#include "tests/graph/device_parity.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "graph/model.h"
#include "graph/session.h"

namespace ferry::parity {
namespace {

struct Case {
  std::string name;  // unique; a test name
  std::string op;
  std::vector<In> inputs;
  Attributes attrs;
  int opset = 13;
  int outputs = 1;
  // Computed while planning (shape-only ops, or every input known): never a step on any device.
  bool folds = false;
  // Relative tolerance for float outputs; 0: bitwise. Only for a case whose kernel takes another path on a device
  // by design (none today).
  double tolerance = 0;
};

Case Op(std::string name, std::string op, std::vector<In> inputs, Attributes attrs = {}, int opset = 13,
        int outputs = 1) {
  return Case{std::move(name), std::move(op), std::move(inputs), std::move(attrs), opset, outputs};
}
Case Folds(Case c) {
  c.folds = true;
  return c;
}

constexpr DataType kF = DataType::kFloat;
constexpr DataType kI64 = DataType::kInt64;
constexpr DataType kI32 = DataType::kInt32;
constexpr DataType kB = DataType::kBool;

std::vector<Case> Cases() {
  std::vector<Case> c;
  // Binary arithmetic, with broadcasting of either side.
  c.push_back(Op("Add", "Add", {F({-1, 3, 17}), F({17})}));
  c.push_back(Op("Add_int64", "Add", {T(kI64, {-1, 7}), T(kI64, {1, 7})}));
  c.push_back(Op("Sub", "Sub", {F({-1, 1, 7}), F({3, 1})}));
  c.push_back(Op("Mul_int32", "Mul", {T(kI32, {-1, 5}), T(kI32, {-1, 5})}));
  c.push_back(Op("Mul", "Mul", {F({-1, 3, 1, 7}), F({1, 1, 5, 1})}));
  c.push_back(Op("Div", "Div", {F({-1, 17}), F({17}, Fill::kNonZero)}));
  c.push_back(Op("Div_int64", "Div", {T(kI64, {-1, 3}), T(kI64, {-1, 3}, Fill::kNonZero)}));
  c.push_back(Op("Mod", "Mod", {T(kI64, {-1, 7}), T(kI64, {7}, Fill::kNonZero)}));
  c.push_back(Op("Mod_fmod", "Mod", {F({-1, 7}), F({1}, Fill::kNonZero)}, A({{"fmod", int64_t{1}}})));
  c.push_back(Op("BitShift", "BitShift", {Ix(DataType::kUInt8, {-1, 7}, 0, 255), Ix(DataType::kUInt8, {7}, 0, 7)},
                 A({{"direction", std::string("LEFT")}})));
  c.push_back(Op("BitShift_right", "BitShift",
                 {Ix(DataType::kUInt32, {-1, 3}, 0, 1 << 30), Ix(DataType::kUInt32, {-1, 3}, 0, 31)},
                 A({{"direction", std::string("RIGHT")}})));
  c.push_back(Op("Pow", "Pow", {F({-1, 7}, Fill::kPositive), F({7})}));
  c.push_back(Op("Pow_int_exponent", "Pow", {F({-1, 3}), Ix(kI64, {1}, 0, 3)}));
  c.push_back(Op("Sum", "Sum", {F({-1, 3, 7}), F({7}), F({3, 1})}));
  c.push_back(Op("Mean", "Mean", {F({-1, 7}), F({-1, 7})}));
  c.push_back(Op("Max", "Max", {F({-1, 1, 5}), F({3, 1}), F({5})}));
  c.push_back(Op("Min_int64", "Min", {T(kI64, {-1, 5}), T(kI64, {5})}));
  // Comparisons and logic.
  c.push_back(Op("Equal", "Equal", {Ix(kI64, {-1, 7}, 0, 3), Ix(kI64, {7}, 0, 3)}));
  c.push_back(Op("Less", "Less", {F({-1, 3, 7}), F({7})}));
  c.push_back(Op("Greater", "Greater", {F({-1, 1}), F({17})}));
  c.push_back(Op("LessOrEqual", "LessOrEqual", {Ix(kI32, {-1, 7}, -3, 3), Ix(kI32, {-1, 7}, -3, 3)}));
  c.push_back(Op("GreaterOrEqual", "GreaterOrEqual", {F({-1, 5}), F({1, 5})}));
  c.push_back(Op("And", "And", {T(kB, {-1, 7}), T(kB, {7})}));
  c.push_back(Op("Or", "Or", {T(kB, {-1, 3, 1}), T(kB, {1, 5})}));
  c.push_back(Op("Xor", "Xor", {T(kB, {-1, 17}), T(kB, {-1, 17})}));
  c.push_back(Op("Not", "Not", {T(kB, {-1, 3, 7})}));
  // Unary math, each in its domain.
  const std::vector<std::pair<const char*, Fill>> unary = {
      {"Exp", Fill::kAny},         {"Log", Fill::kPositive},
      {"Sqrt", Fill::kPositive},   {"Reciprocal", Fill::kNonZero},
      {"Floor", Fill::kAny},       {"Ceil", Fill::kAny},
      {"Round", Fill::kAny},       {"Erf", Fill::kAny},
      {"Sin", Fill::kAny},         {"Cos", Fill::kAny},
      {"Tan", Fill::kUnit},        {"Asin", Fill::kUnit},
      {"Acos", Fill::kUnit},       {"Atan", Fill::kAny},
      {"Sinh", Fill::kAny},        {"Cosh", Fill::kAny},
      {"Asinh", Fill::kAny},       {"Acosh", Fill::kAboveOne},
      {"Atanh", Fill::kUnit},      {"Neg", Fill::kAny},
      {"Abs", Fill::kAny},         {"Sign", Fill::kSpecials},
      {"IsNaN", Fill::kSpecials},  {"IsInf", Fill::kSpecials},
      {"Relu", Fill::kAny},        {"Elu", Fill::kAny},
      {"Selu", Fill::kAny},        {"Sigmoid", Fill::kAny},
      {"HardSigmoid", Fill::kAny}, {"Tanh", Fill::kAny},
      {"Softplus", Fill::kAny},    {"Softsign", Fill::kAny},
  };
  for (const auto& [op, fill] : unary) c.push_back(Op(op, op, {F({-1, 3, 17}, fill)}));
  c.push_back(Op("Neg_int32", "Neg", {T(kI32, {-1, 7})}));
  c.push_back(Op("Abs_int64", "Abs", {T(kI64, {-1, 7})}));
  c.push_back(Op("Relu_odd", "Relu", {F({-1, 1, 1})}));
  c.push_back(Op("LeakyRelu", "LeakyRelu", {F({-1, 7})}, A({{"alpha", 0.3f}})));
  c.push_back(Op("PRelu", "PRelu", {F({-1, 3, 5}), F({3, 1})}));
  c.push_back(Op("PRelu_const_slope", "PRelu", {F({-1, 5}), C(Fs({0.1f, 0.2f, -0.3f, 1.f, 2.f}))}));
  c.push_back(Op("Celu", "Celu", {F({-1, 7})}, A({{"alpha", 1.5f}}), 12));
  c.push_back(Op("HardSwish", "HardSwish", {F({-1, 3, 7})}, {}, 14));
  c.push_back(Op("ThresholdedRelu", "ThresholdedRelu", {F({-1, 7})}, A({{"alpha", 0.5f}})));
  c.push_back(Op("Shrink", "Shrink", {F({-1, 7})}, A({{"lambd", 0.7f}, {"bias", 0.2f}})));
  c.push_back(Op("Clip", "Clip", {F({-1, 3, 7}), C(FScalar(-1.f)), C(FScalar(1.5f))}));
  c.push_back(Op("Clip_min_only", "Clip", {F({-1, 7}), C(FScalar(0.f)), None()}));
  c.push_back(Op("Where", "Where", {T(kB, {-1, 1, 7}), F({3, 7}), F({-1, 3, 1})}));
  c.push_back(Op("Cast", "Cast", {F({-1, 7})}, A({{"to", int64_t{6}}})));
  c.push_back(Op("Cast_to_float", "Cast", {T(kI64, {-1, 3, 5})}, A({{"to", int64_t{1}}})));
  c.push_back(Op("Cast_to_bool", "Cast", {Ix(kI32, {-1, 7}, -1, 1)}, A({{"to", int64_t{9}}})));
  c.push_back(Op("CastLike", "CastLike", {F({-1, 7}), C(I64Scalar(0))}, {}, 15));

  // Convolution and pooling.
  c.push_back(
      Op("Conv", "Conv", {F({-1, 3, 9, 9}), F({4, 3, 3, 3}), F({4})}, A({{"pads", std::vector<int64_t>{1, 1, 1, 1}}})));
  {
    // Constant weights take the packed path (weights derived once per model and device).
    std::vector<float> w(4 * 3 * 3 * 3), b(4);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 7 % 11) - 5) / 8.f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) / 4.f - 0.5f;
    c.push_back(
        Op("Conv_const_weights", "Conv",
           {F({-1, 3, 7, 7}), C(Tensor::FromVector<float>({4, 3, 3, 3}, w)), C(Tensor::FromVector<float>({4}, b))},
           A({{"strides", std::vector<int64_t>{2, 2}}})));
  }
  c.push_back(Op("Conv_group_dilated", "Conv", {F({-1, 4, 9, 7}), F({6, 2, 3, 3})},
                 A({{"group", int64_t{2}}, {"dilations", std::vector<int64_t>{2, 1}}})));
  c.push_back(Op("ConvTranspose", "ConvTranspose", {F({-1, 3, 5, 5}), F({3, 2, 3, 3}), F({2})},
                 A({{"strides", std::vector<int64_t>{2, 2}}})));
  c.push_back(Op("MaxPool", "MaxPool", {F({-1, 3, 9, 7})},
                 A({{"kernel_shape", std::vector<int64_t>{3, 3}},
                    {"strides", std::vector<int64_t>{2, 2}},
                    {"pads", std::vector<int64_t>{1, 1, 1, 1}}})));
  c.push_back(Op("AveragePool", "AveragePool", {F({-1, 3, 7, 7})},
                 A({{"kernel_shape", std::vector<int64_t>{2, 3}},
                    {"count_include_pad", int64_t{1}},
                    {"pads", std::vector<int64_t>{0, 1, 0, 1}}})));
  c.push_back(Op("GlobalAveragePool", "GlobalAveragePool", {F({-1, 3, 7, 5})}));
  c.push_back(Op("GlobalMaxPool", "GlobalMaxPool", {F({-1, 3, 7, 5})}));
  c.push_back(Op("LRN", "LRN", {F({-1, 7, 3, 3})}, A({{"size", int64_t{3}}})));

  // Linear algebra and normalization.
  c.push_back(Op("Gemm", "Gemm", {F({-1, 17}), F({17, 7}), F({7})}));
  c.push_back(Op("Gemm_transB_alpha", "Gemm", {F({-1, 17}), F({7, 17}), F({1})},
                 A({{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.f}})));
  {
    std::vector<float> w(17 * 7);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(static_cast<int>(i * 5 % 13) - 6) / 8.f;
    c.push_back(Op("Gemm_const_weights", "Gemm", {F({-1, 17}), C(Tensor::FromVector<float>({17, 7}, w)), F({7})}));
    c.push_back(Op("MatMul_const_weights", "MatMul", {F({-1, 3, 17}), C(Tensor::FromVector<float>({17, 7}, w))}));
  }
  c.push_back(Op("MatMul", "MatMul", {F({-1, 7, 5}), F({-1, 5, 3})}));
  c.push_back(Op("MatMul_vector", "MatMul", {F({-1, 17}), F({17})}));
  c.push_back(Op("BatchNormalization", "BatchNormalization",
                 {F({-1, 3, 5, 5}), F({3}), F({3}), F({3}), F({3}, Fill::kPositive)}));
  c.push_back(Op("InstanceNormalization", "InstanceNormalization", {F({-1, 3, 7}), F({3}), F({3})}));
  c.push_back(Op("LayerNormalization", "LayerNormalization", {F({-1, 7, 17}), F({17}), F({17})}, {}, 17));
  c.push_back(Op("Softmax", "Softmax", {F({-1, 3, 17})}));
  c.push_back(Op("Softmax_axis1", "Softmax", {F({-1, 3, 7})}, A({{"axis", int64_t{1}}})));
  c.push_back(Op("LogSoftmax", "LogSoftmax", {F({-1, 3, 17})}));
  c.push_back(Op("Hardmax", "Hardmax", {F({-1, 3, 7})}));

  // Reductions, scans, Resize, TopK.
  c.push_back(Op("ArgMax", "ArgMax", {F({-1, 7, 3})}, A({{"axis", int64_t{1}}, {"keepdims", int64_t{0}}})));
  c.push_back(Op("ArgMin", "ArgMin", {F({-1, 7, 3})}, A({{"axis", int64_t{-1}}})));
  c.push_back(Op("CumSum", "CumSum", {F({-1, 17}), C(I64Scalar(1))}));
  c.push_back(Op("CumSum_exclusive_reverse", "CumSum", {T(kI64, {-1, 3, 5}), C(I64Scalar(0))},
                 A({{"exclusive", int64_t{1}}, {"reverse", int64_t{1}}})));
  const std::vector<std::pair<const char*, Fill>> reduce = {
      {"ReduceL1", Fill::kAny},        {"ReduceL2", Fill::kAny},    {"ReduceLogSum", Fill::kPositive},
      {"ReduceLogSumExp", Fill::kAny}, {"ReduceMax", Fill::kAny},   {"ReduceMean", Fill::kAny},
      {"ReduceMin", Fill::kAny},       {"ReduceProd", Fill::kUnit}, {"ReduceSumSquare", Fill::kAny},
  };
  for (const auto& [op, fill] : reduce) {
    c.push_back(Op(op, op, {F({-1, 7, 3}, fill)}, A({{"axes", std::vector<int64_t>{1}}})));
  }
  c.push_back(Op("ReduceMax_all_nokeep", "ReduceMax", {F({-1, 3, 5})}, A({{"keepdims", int64_t{0}}})));
  c.push_back(Op("ReduceSum", "ReduceSum", {F({-1, 7, 3}), C(I64s({-1}))}));
  c.push_back(Op("ReduceSum_int64_keep", "ReduceSum", {T(kI64, {-1, 7, 3}), C(I64s({0, 2}))}));
  c.push_back(Op("Resize_nearest", "Resize", {F({-1, 3, 4, 5}), None(), C(Fs({1.f, 1.f, 2.f, 1.5f}))}));
  c.push_back(Op("Resize_linear_sizes", "Resize", {F({-1, 2, 5, 3}), None(), None(), C(I64s({1, 2, 7, 8}))},
                 A({{"mode", std::string("linear")}})));
  c.push_back(Op("TopK", "TopK", {F({-1, 17}), C(I64s({5}))}, {}, 13, 2));
  c.push_back(Op("TopK_smallest", "TopK", {F({-1, 7, 3}), C(I64s({2}))},
                 A({{"axis", int64_t{1}}, {"largest", int64_t{0}}}), 13, 2));
  c.push_back(Op("Upsample", "Upsample", {F({-1, 2, 3, 3}), C(Fs({1.f, 1.f, 2.f, 2.f}))}, {}, 9));

  // Tensor ops.
  c.push_back(Op("Concat", "Concat", {F({-1, 2, 3}), F({-1, 5, 3}), F({-1, 1, 3})}, A({{"axis", int64_t{1}}})));
  c.push_back(Op("Concat_int64_batch", "Concat", {T(kI64, {-1, 3}), T(kI64, {7, 3})}, A({{"axis", int64_t{0}}})));
  c.push_back(Folds(Op("Constant", "Constant", {}, A({{"value", Fs({1.f, 2.f, 3.f})}}))));
  c.push_back(Folds(Op("ConstantOfShape", "ConstantOfShape", {C(I64s({3, 7}))}, A({{"value", Fs({2.5f})}}), 13)));
  c.push_back(Op("DepthToSpace", "DepthToSpace", {F({-1, 8, 2, 3})}, A({{"blocksize", int64_t{2}}})));
  c.push_back(Op("DepthToSpace_crd", "DepthToSpace", {F({-1, 8, 3, 1})},
                 A({{"blocksize", int64_t{2}}, {"mode", std::string("CRD")}})));
  c.push_back(Op("SpaceToDepth", "SpaceToDepth", {F({-1, 2, 4, 6})}, A({{"blocksize", int64_t{2}}})));
  c.push_back(Op("Dropout", "Dropout", {F({-1, 7})}));
  c.push_back(Op("Dropout_with_mask", "Dropout", {F({-1, 3, 5})}, {}, 13, 2));
  c.push_back(Op("Expand", "Expand", {F({-1, 1, 7}), C(I64s({1, 3, 7}))}));
  c.push_back(Op("EyeLike", "EyeLike", {F({-1, 5})}, A({{"k", int64_t{1}}})));
  c.push_back(Op("Flatten", "Flatten", {F({-1, 3, 4})}));
  c.push_back(Op("Gather", "Gather", {F({-1, 7, 3}), Ix(kI64, {2, 4}, -7, 6)}, A({{"axis", int64_t{1}}})));
  c.push_back(Op("Gather_axis0_int32", "Gather", {T(kI64, {17, 3}), Ix(kI32, {-1}, -17, 16)}));
  c.push_back(
      Op("GatherElements", "GatherElements", {F({-1, 7}), Ix(kI64, {-1, 5}, -7, 6)}, A({{"axis", int64_t{1}}})));
  c.push_back(Op("GatherND", "GatherND", {F({5, 4, 3}), Ix(kI64, {-1, 2}, 0, 3)}));
  c.push_back(Op("Identity", "Identity", {F({-1, 7})}));
  c.push_back(Op("Identity_int64", "Identity", {T(kI64, {-1, 3})}));
  c.push_back(Op("OneHot", "OneHot", {Ix(kI64, {-1, 5}, -10, 9), C(I64Scalar(10)), C(Fs({-1.f, 2.f}))}));
  c.push_back(Op("Pad", "Pad", {F({-1, 3, 5}), C(I64s({0, 1, 2, 0, 2, 1})), C(FScalar(0.5f))}));
  c.push_back(
      Op("Pad_reflect", "Pad", {F({-1, 3, 5}), C(I64s({0, 0, 2, 0, 0, 3}))}, A({{"mode", std::string("reflect")}})));
  c.push_back(Op("Pad_edge", "Pad", {F({-1, 3, 5}), C(I64s({0, 2, 1, 0, 1, 0}))}, A({{"mode", std::string("edge")}})));
  c.push_back(Folds(Op("Range", "Range", {C(FScalar(1.f)), C(FScalar(7.f)), C(FScalar(0.5f))}, {}, 11)));
  c.push_back(Op("Reshape", "Reshape", {F({-1, 3, 4}), C(I64s({0, -1}))}));
  c.push_back(Op("Reshape_value_keyed", "Reshape", {F({-1, 3, 4}), Keyed(I64s({0, 2, 6}))}));
  c.push_back(
      Op("Scatter", "Scatter", {F({-1, 7}), Ix(kI64, {-1, 3}, 0, 6), F({-1, 3})}, A({{"axis", int64_t{1}}}), 10));
  c.push_back(Op("ScatterElements", "ScatterElements", {F({-1, 7}), Ix(kI64, {-1, 3}, -7, 6), F({-1, 3})},
                 A({{"axis", int64_t{1}}})));
  c.push_back(Op("ScatterND", "ScatterND", {F({5, 4, 3}), C(I64(Shape{2, 1}, {3, 1})), F({2, 4, 3})}));
  c.push_back(Folds(Op("Shape", "Shape", {F({-1, 3, 7})})));
  c.push_back(Folds(Op("Size", "Size", {F({-1, 3, 7})})));
  c.push_back(
      Op("Slice", "Slice", {F({-1, 17, 5}), C(I64s({1, -4})), C(I64s({15, 1000})), C(I64s({1, 2})), C(I64s({2, 1}))}));
  c.push_back(Op("Slice_negative_step", "Slice",
                 {T(kI64, {-1, 17}), C(I64s({-1})), C(I64s({-100})), C(I64s({1})), C(I64s({-3}))}));
  c.push_back(Op("Split", "Split", {F({-1, 17}), C(I64s({3, 7, 7}))}, A({{"axis", int64_t{1}}}), 13, 3));
  c.push_back(Op("Split_equal", "Split", {F({-1, 6, 2})}, A({{"axis", int64_t{1}}}), 13, 3));
  c.push_back(Op("Split_opset11_attr", "Split", {F({-1, 5})},
                 A({{"axis", int64_t{1}}, {"split", std::vector<int64_t>{1, 4}}}), 11, 2));
  c.push_back(Op("Squeeze_opset11_attr", "Squeeze", {F({-1, 1, 3})}, A({{"axes", std::vector<int64_t>{1}}}), 11));
  c.push_back(Op("Clip_opset6_attr", "Clip", {F({-1, 7})}, A({{"min", -0.5f}, {"max", 0.5f}}), 6));
  c.push_back(Op("Concat_empty_constant", "Concat", {F({-1, 3}), C(Tensor::Allocate(DataType::kFloat, {0, 3}).value())},
                 A({{"axis", int64_t{0}}})));
  c.push_back(Op("Squeeze", "Squeeze", {F({-1, 1, 7, 1}), C(I64s({1, 3}))}));
  c.push_back(Op("Unsqueeze", "Unsqueeze", {F({-1, 7}), C(I64s({1, -1}))}));
  c.push_back(Op("Tile", "Tile", {F({-1, 3, 2}), C(I64s({1, 2, 3}))}));
  c.push_back(Op("Transpose", "Transpose", {F({-1, 3, 7, 2})}, A({{"perm", std::vector<int64_t>{0, 3, 1, 2}}})));
  c.push_back(
      Op("Transpose_moves_batch", "Transpose", {T(kI64, {-1, 3, 5})}, A({{"perm", std::vector<int64_t>{2, 0, 1}}})));
  c.push_back(Op("Trilu", "Trilu", {F({-1, 5, 7}), C(I64Scalar(1))}, A({{"upper", int64_t{0}}}), 14));
  return c;
}

// Ops of the CPU table without a case here, each with its reason. Empty today: every op has one.
const std::map<std::string, std::string>& Exclusions() {
  static const std::map<std::string, std::string> excluded = {};
  return excluded;
}

// The graph of a case: its inputs (graph inputs or initializers) -> op -> outputs, with an Identity after every
// graph input and before every graph output when `neighbours` (nodes a split device places apart from the op).
Graph BuildGraph(const Case& c, bool neighbours) {
  Graph g;
  g.opset = c.opset;
  g.opsets[""] = c.opset;
  Node op;
  op.name = "op_under_test";
  op.op_type = c.op;
  op.attrs = c.attrs;
  std::vector<Node> before, after;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const In& in = c.inputs[i];
    if (in.dtype == DataType::kUndefined) {
      op.inputs.push_back(-1);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    const int v = g.AddValue(name);
    g.values[v].dtype = in.dtype;
    g.values[v].has_shape = true;
    for (int64_t d : in.shape) g.values[v].shape.push_back(d < 0 ? Dim{-1, "batch"} : Dim{d, ""});
    if (in.constant.defined() && !in.value_keyed) {
      g.initializers[v] = in.constant;
      op.inputs.push_back(v);
      continue;
    }
    g.inputs.push_back(v);
    if (!neighbours) {
      op.inputs.push_back(v);
      continue;
    }
    const int w = g.AddValue(name + "_next");
    g.values[w].dtype = in.dtype;
    Node id;
    id.name = "identity_" + name;
    id.op_type = "Identity";
    id.inputs = {v};
    id.outputs = {w};
    before.push_back(std::move(id));
    op.inputs.push_back(w);
  }
  for (int k = 0; k < c.outputs; ++k) {
    const int y = g.AddValue("y" + std::to_string(k));
    op.outputs.push_back(y);
    if (!neighbours) {
      g.outputs.push_back(y);
      continue;
    }
    const int z = g.AddValue("out" + std::to_string(k));
    Node id;
    id.name = "identity_out" + std::to_string(k);
    id.op_type = "Identity";
    id.inputs = {y};
    id.outputs = {z};
    after.push_back(std::move(id));
    g.outputs.push_back(z);
  }
  for (Node& n : before) g.nodes.push_back(std::move(n));
  g.nodes.push_back(std::move(op));
  for (Node& n : after) g.nodes.push_back(std::move(n));
  return g;
}

std::shared_ptr<const Model> MakeModel(Graph g) {
  ModelOptions options;
  options.optimize = false;  // keep the graph as built: the neighbours must stay nodes
  auto m = Model::FromGraph(std::move(g), OnnxModelInfo{}, options);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

// Where each of the model's nodes ran in `plan` (nodes computed while planning are absent).
std::map<std::string, Location> NodeLocations(const Model& model, const Plan& plan) {
  std::map<std::string, Location> at;
  for (const PlanStep& s : plan.steps)
    if (s.kind == PlanStep::Kind::kKernel) at[model.graph().nodes[s.node].name] = s.location;
  return at;
}

// Failure messages name the case, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class DeviceParity : public ::testing::TestWithParam<Case> {};

TEST_P(DeviceParity, DeviceRunsGiveTheCpuAnswer) {
  const Case& c = GetParam();
  const Devices& dev = SimDevices();
  auto plain = MakeModel(BuildGraph(c, /*neighbours=*/false));
  auto split = MakeModel(BuildGraph(c, /*neighbours=*/true));
  ASSERT_TRUE(plain && split);
  const bool has_batch = [&] {
    for (const In& in : c.inputs)
      if (!in.shape.empty() && in.shape[0] < 0 && !in.constant.defined()) return true;
    return false;
  }();

  int runtime_inputs = 0;
  for (const In& in : c.inputs)
    if (in.dtype != DataType::kUndefined && !in.constant.defined()) ++runtime_inputs;

  struct Mode {
    const char* name;
    const Model* model;
    const Device* device;  // nullptr: the CPU alone
    // Where the op under test and its Identity neighbours must run (when the op is a step).
    Location op_at, neighbours_at;
  };
  const Location sim_all = dev.all->location(), slow = dev.all_slow->location();
  std::vector<Mode> modes = {
      {"sim", plain.get(), dev.all, sim_all, sim_all},
      {"sim (delayed)", plain.get(), dev.all_slow, slow, slow},
      {"sim with neighbours", split.get(), dev.all, sim_all, sim_all},
  };
  if (c.op != "Identity") {  // the neighbours are Identity nodes: splitting needs another op
    modes.push_back(
        {"op on sim, neighbours on cpu", split.get(), dev.no_identity, dev.no_identity->location(), kHostLocation});
    modes.push_back(
        {"op on cpu, neighbours on sim", split.get(), dev.identity_only, kHostLocation, dev.identity_only->location()});
  }

  Session cpu_plain(plain, SessionOptions{});
  Session cpu_split(split, SessionOptions{});
  std::vector<std::unique_ptr<Session>> sessions;
  for (const Mode& m : modes) {
    SessionOptions o;
    o.devices = {m.device};
    sessions.push_back(std::make_unique<Session>(m.model == plain.get() ? plain : split, o));
  }

  // 64 first (the arenas grow to it), then 1 and 3 reuse them; a second round at 64 reads arenas the device
  // poisoned after the first.
  const std::vector<int64_t> batches = has_batch ? std::vector<int64_t>{64, 1, 3, 64} : std::vector<int64_t>{1, 1};
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(c.name)));
  for (int64_t batch : batches) {
    std::vector<Tensor> inputs;
    for (const In& in : c.inputs) {
      if (in.dtype == DataType::kUndefined || (in.constant.defined() && !in.value_keyed)) continue;
      if (in.value_keyed) {
        inputs.push_back(in.constant);
        continue;
      }
      Shape shape = in.shape;
      if (!shape.empty() && shape[0] < 0) shape[0] = batch;
      inputs.push_back(RandomTensor(in, shape, rng));
    }
    auto want_plain = cpu_plain.Run(inputs);
    ASSERT_TRUE(want_plain.ok()) << want_plain.status().ToString();
    auto want_split = cpu_split.Run(inputs);
    ASSERT_TRUE(want_split.ok()) << want_split.status().ToString();
    for (size_t k = 0; k < want_plain->size(); ++k)
      ExpectSame((*want_plain)[k], (*want_split)[k], "cpu with neighbours, output " + std::to_string(k));

    for (size_t i = 0; i < modes.size(); ++i) {
      const Mode& m = modes[i];
      const std::string what = c.name + " at batch " + std::to_string(batch) + ", " + m.name;
      auto got = sessions[i]->Run(inputs);
      ASSERT_TRUE(got.ok()) << what << ": " << got.status().ToString();
      ASSERT_EQ(got->size(), want_plain->size()) << what;
      for (size_t k = 0; k < got->size(); ++k)
        ExpectSame((*want_plain)[k], (*got)[k], what + ", output " + std::to_string(k), c.tolerance);

      // The device really ran it, with copies where values cross.
      auto plan = sessions[i]->PlanFor(Views(inputs));
      ASSERT_TRUE(plan.ok()) << plan.status().ToString();
      const auto at = NodeLocations(*m.model, **plan);
      if (c.folds) {
        EXPECT_EQ(at.count("op_under_test"), 0u) << what << ": expected to be computed while planning";
        EXPECT_GE((*plan)->folded_nodes, 1) << what;
        continue;
      }
      ASSERT_EQ(at.count("op_under_test"), 1u) << what << ": the op is not a step";
      EXPECT_EQ(at.at("op_under_test"), m.op_at) << what;
      for (const auto& [name, location] : at)
        if (name != "op_under_test") {
          EXPECT_EQ(location, m.neighbours_at) << what << ": " << name;
        }
      // Every runtime input goes to the device and every output comes back once; with the op on the CPU between
      // device neighbours, each crosses twice.
      const int crossings = runtime_inputs + c.outputs;
      EXPECT_EQ((*plan)->copies, m.op_at == kHostLocation ? 2 * crossings : crossings) << what;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, DeviceParity, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// Why the suite asks for bitwise equality only when thread counts match: the CPU at 4 threads against the
// device's single-threaded kernels. Ops that split a reduction between threads may round differently; the
// bound here (1e-5 relative) is what a device whose kernels reduce in another order would be held to.
TEST(DeviceParityThreads, MultiThreadedCpuAgreesWithinTolerance) {
  std::map<std::string, Case> by_name;
  for (const Case& c : Cases()) by_name.emplace(c.name, c);
  int bitwise = 0, total = 0;
  for (const char* name : {"Conv", "Conv_const_weights", "Gemm_const_weights", "MatMul", "MatMul_const_weights",
                           "ReduceSum", "Softmax", "LayerNormalization", "CumSum"}) {
    const Case& c = by_name.at(name);
    auto model = MakeModel(BuildGraph(c, false));
    ASSERT_NE(model, nullptr);
    SessionOptions threaded;
    threaded.num_threads = 4;
    Session cpu(model, threaded);
    SessionOptions on_sim;
    on_sim.devices = {SimDevices().all};
    Session sim(model, on_sim);
    std::mt19937 rng(7);
    std::vector<Tensor> inputs;
    for (const In& in : c.inputs) {
      if (in.dtype == DataType::kUndefined || in.constant.defined()) continue;
      Shape shape = in.shape;
      if (!shape.empty() && shape[0] < 0) shape[0] = 64;
      inputs.push_back(RandomTensor(in, shape, rng));
    }
    auto want = cpu.Run(inputs);
    auto got = sim.Run(inputs);
    ASSERT_TRUE(want.ok() && got.ok());
    ++total;
    const bool same = std::memcmp((*want)[0].data(), (*got)[0].data(), (*want)[0].nbytes()) == 0;
    bitwise += same;
    if (!same) std::cout << name << " differs in the last bits with the CPU at 4 threads\n";
    ExpectSame((*want)[0], (*got)[0], std::string(name) + " (cpu at 4 threads)", 1e-5);
  }
  std::cout << bitwise << " of " << total << " ops bitwise equal with the CPU at 4 threads\n";
}

// Conv with constant weights packs them in Prepare (from the host copy, shared through the device's weight store)
// and uses the packed form in Compute on the device's copy as on the CPU's: bitwise the CPU's answer, not that of
// the unpacked path (the weights fed as graph inputs), which sums in another order.
TEST(DeviceParityConv, ConvConstantWeightsOnADeviceUseThePackedPath) {
  std::map<std::string, Case> by_name;
  for (const Case& c : Cases()) by_name.emplace(c.name, c);
  Case constant = by_name.at("Conv_const_weights");
  auto with_constants = MakeModel(BuildGraph(constant, false));
  ASSERT_TRUE(with_constants);
  SessionOptions on_sim;
  on_sim.devices = {SimDevices().all};
  Session sim(with_constants, on_sim);
  Session cpu(with_constants, SessionOptions{});
  std::mt19937 rng(11);
  for (int64_t batch : {1, 64}) {
    const Tensor x = RandomTensor(constant.inputs[0], {batch, 3, 7, 7}, rng);
    auto got = sim.Run({x});
    auto want = cpu.Run({x});
    ASSERT_TRUE(got.ok() && want.ok());
    ExpectSame((*want)[0], (*got)[0], "Conv at batch " + std::to_string(batch));
  }
}

// Adding a kernel to the CPU table without a parity case here (or a reasoned exclusion) fails this test.
TEST(DeviceParityCoverage, EveryCpuOpHasACaseOrAReasonedExclusion) {
  std::set<std::string> covered, names;
  for (const Case& c : Cases()) {
    covered.insert(c.op);
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
  }
  int table_ops = 0;
  for (const auto& [op, entries] : CpuDevice().kernels().entries()) {
    ++table_ops;
    const bool excluded = Exclusions().count(op) != 0;
    EXPECT_TRUE(covered.count(op) || excluded) << op << " is in the CPU kernel table but has no parity case";
    EXPECT_FALSE(covered.count(op) && excluded) << op << " has a case and an exclusion";
  }
  for (const std::string& op : covered)
    EXPECT_TRUE(CpuDevice().kernels().HasOp(op)) << "a case for " << op << ", which the CPU table lacks";
  RecordProperty("covered_ops", static_cast<int>(covered.size()));
  RecordProperty("table_ops", table_ops);
  std::cout << "parity cases cover " << covered.size() << " of " << table_ops << " CPU ops\n";
}

}  // namespace
}  // namespace ferry::parity
