// Registration of the elementwise kernel family: one line per op, the kernels live one per file beside this.
#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

using Factory = Result<std::unique_ptr<Kernel>>(const KernelDef& def);

// binary_arith.cc, pow.cc, variadic.cc
Factory CreateAdd, CreateSub, CreateMul, CreateDiv, CreateMod, CreateBitShift, CreatePow;
Factory CreateSum, CreateMean, CreateMax, CreateMin;
// compare.cc, logical.cc
Factory CreateEqual, CreateLess, CreateGreater, CreateLessOrEqual, CreateGreaterOrEqual;
Factory CreateAnd, CreateOr, CreateXor, CreateNot;
// unary_math.cc
Factory CreateExp, CreateLog, CreateSqrt, CreateReciprocal, CreateFloor, CreateCeil, CreateRound, CreateErf;
Factory CreateSin, CreateCos, CreateTan, CreateAsin, CreateAcos, CreateAtan;
Factory CreateSinh, CreateCosh, CreateAsinh, CreateAcosh, CreateAtanh;
Factory CreateNeg, CreateAbs, CreateSign, CreateIsNaN, CreateIsInf;
// activations.cc, prelu.cc, clip.cc
Factory CreateRelu, CreateLeakyRelu, CreateElu, CreateSelu, CreateCelu, CreateSigmoid, CreateHardSigmoid;
Factory CreateHardSwish, CreateTanh, CreateSoftplus, CreateSoftsign, CreateThresholdedRelu, CreateShrink;
Factory CreatePRelu, CreateClip;
// where.cc, cast.cc
Factory CreateWhere, CreateCast, CreateCastLike;

void AddElementwiseKernels(KernelTable& table) {
  constexpr int kAny = 1 << 30;
  table.Add("Add", {CreateAdd, 1, kAny, false, {}});
  table.Add("Sub", {CreateSub, 1, kAny, false, {}});
  table.Add("Mul", {CreateMul, 1, kAny, false, {}});
  table.Add("Div", {CreateDiv, 1, kAny, false, {}});
  table.Add("Mod", {CreateMod, 10, kAny, false, {}});
  table.Add("BitShift", {CreateBitShift, 11, kAny, false, {}});
  table.Add("Pow", {CreatePow, 1, kAny, false, {}});
  table.Add("Sum", {CreateSum, 1, kAny, false, {}});
  table.Add("Mean", {CreateMean, 1, kAny, false, {}});
  table.Add("Max", {CreateMax, 1, kAny, false, {}});
  table.Add("Min", {CreateMin, 1, kAny, false, {}});

  table.Add("Equal", {CreateEqual, 1, kAny, false, {}});
  table.Add("Less", {CreateLess, 1, kAny, false, {}});
  table.Add("Greater", {CreateGreater, 1, kAny, false, {}});
  table.Add("LessOrEqual", {CreateLessOrEqual, 12, kAny, false, {}});
  table.Add("GreaterOrEqual", {CreateGreaterOrEqual, 12, kAny, false, {}});
  table.Add("And", {CreateAnd, 1, kAny, false, {}});
  table.Add("Or", {CreateOr, 1, kAny, false, {}});
  table.Add("Xor", {CreateXor, 1, kAny, false, {}});
  table.Add("Not", {CreateNot, 1, kAny, false, {}});

  table.Add("Exp", {CreateExp, 1, kAny, false, {}});
  table.Add("Log", {CreateLog, 1, kAny, false, {}});
  table.Add("Sqrt", {CreateSqrt, 1, kAny, false, {}});
  table.Add("Reciprocal", {CreateReciprocal, 1, kAny, false, {}});
  table.Add("Floor", {CreateFloor, 1, kAny, false, {}});
  table.Add("Ceil", {CreateCeil, 1, kAny, false, {}});
  table.Add("Round", {CreateRound, 11, kAny, false, {}});
  table.Add("Erf", {CreateErf, 9, kAny, false, {}});
  table.Add("Sin", {CreateSin, 7, kAny, false, {}});
  table.Add("Cos", {CreateCos, 7, kAny, false, {}});
  table.Add("Tan", {CreateTan, 7, kAny, false, {}});
  table.Add("Asin", {CreateAsin, 7, kAny, false, {}});
  table.Add("Acos", {CreateAcos, 7, kAny, false, {}});
  table.Add("Atan", {CreateAtan, 7, kAny, false, {}});
  table.Add("Sinh", {CreateSinh, 9, kAny, false, {}});
  table.Add("Cosh", {CreateCosh, 9, kAny, false, {}});
  table.Add("Asinh", {CreateAsinh, 9, kAny, false, {}});
  table.Add("Acosh", {CreateAcosh, 9, kAny, false, {}});
  table.Add("Atanh", {CreateAtanh, 9, kAny, false, {}});
  table.Add("Neg", {CreateNeg, 1, kAny, false, {}});
  table.Add("Abs", {CreateAbs, 1, kAny, false, {}});
  table.Add("Sign", {CreateSign, 9, kAny, false, {}});
  table.Add("IsNaN", {CreateIsNaN, 9, kAny, false, {}});
  table.Add("IsInf", {CreateIsInf, 10, kAny, false, {}});

  table.Add("Relu", {CreateRelu, 1, kAny, false, {}});
  table.Add("LeakyRelu", {CreateLeakyRelu, 1, kAny, false, {}});
  table.Add("PRelu", {CreatePRelu, 1, kAny, false, {}});
  table.Add("Elu", {CreateElu, 1, kAny, false, {}});
  table.Add("Selu", {CreateSelu, 1, kAny, false, {}});
  table.Add("Celu", {CreateCelu, 12, kAny, false, {}});
  table.Add("Sigmoid", {CreateSigmoid, 1, kAny, false, {}});
  table.Add("HardSigmoid", {CreateHardSigmoid, 1, kAny, false, {}});
  table.Add("HardSwish", {CreateHardSwish, 14, kAny, false, {}});
  table.Add("Tanh", {CreateTanh, 1, kAny, false, {}});
  table.Add("Softplus", {CreateSoftplus, 1, kAny, false, {}});
  table.Add("Softsign", {CreateSoftsign, 1, kAny, false, {}});
  table.Add("ThresholdedRelu", {CreateThresholdedRelu, 10, kAny, false, {}});
  table.Add("Shrink", {CreateShrink, 9, kAny, false, {}});
  table.Add("Clip", {CreateClip, 6, kAny, false, {.host_inputs = {1, 2}}});

  table.Add("Where", {CreateWhere, 9, kAny, false, {}});
  table.Add("Cast", {CreateCast, 6, kAny, false, {}});
  table.Add("CastLike", {CreateCastLike, 15, kAny, false, {}});
}

}  // namespace ferry::cpu
