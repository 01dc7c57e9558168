// Registration of the reduce kernel family: one line per op, the kernels live one per file beside this.
#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

Result<std::unique_ptr<Kernel>> CreateArgMax(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateArgMin(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateCumSum(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceL1(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceL2(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceLogSum(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceLogSumExp(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceMax(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceMean(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceMin(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceProd(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceSum(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReduceSumSquare(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateResize(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateTopK(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateUpsample(const KernelDef& def);

void AddReduceKernels(KernelTable& table) {
  // Opset 18 turns the reductions' axes attribute into an input and adds Resize attributes (antialias, axes,
  // keep_aspect_ratio_policy); those versions are not served until implemented.
  constexpr int kLastChecked = 17;
  table.Add("ArgMax", {CreateArgMax, 1, kLastChecked, false, {}});
  table.Add("ArgMin", {CreateArgMin, 1, kLastChecked, false, {}});
  table.Add("CumSum", {CreateCumSum, 11, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceL1", {CreateReduceL1, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceL2", {CreateReduceL2, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceLogSum", {CreateReduceLogSum, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceLogSumExp", {CreateReduceLogSumExp, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceMax", {CreateReduceMax, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceMean", {CreateReduceMean, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceMin", {CreateReduceMin, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceProd", {CreateReduceProd, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceSum", {CreateReduceSum, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("ReduceSumSquare", {CreateReduceSumSquare, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("Resize", {CreateResize, 10, kLastChecked, false, {.host_inputs = {1, 2, 3}}});
  table.Add("TopK", {CreateTopK, 1, kLastChecked, false, {.host_inputs = {1}}});
  table.Add("Upsample", {CreateUpsample, 7, 9, false, {.host_inputs = {1}}});
}

}  // namespace ferry::cpu
