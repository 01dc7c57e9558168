// Registration of the tensor kernel family: one line per op, the kernels live one per file beside this.
#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

Result<std::unique_ptr<Kernel>> CreateConcat(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateConstant(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateConstantOfShape(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateDepthToSpace(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateDropout(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateExpand(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateEyeLike(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateFlatten(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateGather(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateGatherElements(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateGatherND(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateIdentity(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateOneHot(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreatePad(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateRange(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateReshape(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateScatterElements(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateScatterND(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateShape(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSize(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSlice(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSpaceToDepth(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSplit(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSqueeze(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateTile(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateTranspose(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateTrilu(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateUnsqueeze(const KernelDef& def);

void AddTensorKernels(KernelTable& table) {
  // Ops whose later versions change semantics (Split 18 num_outputs, Pad 18 axes, Scatter* 18 min/max)
  // stop at the last opset they were checked against; the others only gained types since.
  constexpr int kOpen = 1 << 30;
  table.Add("Concat", {CreateConcat, 1, kOpen, false, {}});
  table.Add("Constant", {CreateConstant, 1, kOpen, false, {}});
  table.Add("ConstantOfShape", {CreateConstantOfShape, 9, kOpen, false, {.host_inputs = {0}}});
  table.Add("DepthToSpace", {CreateDepthToSpace, 1, kOpen, false, {}});
  table.Add("Dropout", {CreateDropout, 1, kOpen, false, {.host_inputs = {1, 2}, .output_aliases_input = true}});
  table.Add("Expand", {CreateExpand, 8, kOpen, false, {.host_inputs = {1}}});
  table.Add("EyeLike", {CreateEyeLike, 9, kOpen, false, {}});
  table.Add("Flatten", {CreateFlatten, 1, kOpen, false, {.host_inputs = {}, .output_aliases_input = true}});
  table.Add("Gather", {CreateGather, 1, kOpen, false, {}});
  table.Add("GatherElements", {CreateGatherElements, 11, kOpen, false, {}});
  table.Add("GatherND", {CreateGatherND, 11, kOpen, false, {}});
  table.Add("Identity", {CreateIdentity, 1, kOpen, false, {.host_inputs = {}, .output_aliases_input = true}});
  table.Add("OneHot", {CreateOneHot, 9, kOpen, false, {.host_inputs = {1}}});
  table.Add("Pad", {CreatePad, 2, 17, false, {.host_inputs = {1, 2, 3}}});
  table.Add("Range", {CreateRange, 11, kOpen, false, {.host_inputs = {0, 1, 2}}});
  table.Add("Reshape", {CreateReshape, 5, kOpen, false, {.host_inputs = {1}, .output_aliases_input = true}});
  table.Add("Scatter", {CreateScatterElements, 9, 10, false, {}});
  table.Add("ScatterElements", {CreateScatterElements, 11, 17, false, {}});
  table.Add("ScatterND", {CreateScatterND, 11, 17, false, {}});
  table.Add("Shape",
            {CreateShape, 1, kOpen, false, {.host_inputs = {}, .output_aliases_input = false, .shape_only = true}});
  table.Add("Size",
            {CreateSize, 1, kOpen, false, {.host_inputs = {}, .output_aliases_input = false, .shape_only = true}});
  table.Add("Slice", {CreateSlice, 1, kOpen, false, {.host_inputs = {1, 2, 3, 4}}});
  table.Add("SpaceToDepth", {CreateSpaceToDepth, 1, kOpen, false, {}});
  table.Add("Split", {CreateSplit, 2, 17, false, {.host_inputs = {1}}});
  table.Add("Squeeze", {CreateSqueeze, 1, kOpen, false, {.host_inputs = {1}, .output_aliases_input = true}});
  table.Add("Tile", {CreateTile, 6, kOpen, false, {.host_inputs = {1}}});
  table.Add("Transpose", {CreateTranspose, 1, kOpen, false, {}});
  table.Add("Trilu", {CreateTrilu, 14, kOpen, false, {.host_inputs = {1}}});
  table.Add("Unsqueeze", {CreateUnsqueeze, 1, kOpen, false, {.host_inputs = {1}, .output_aliases_input = true}});
}

}  // namespace ferry::cpu
