// Registration of the linalg norm kernel family: one line per op, the kernels live one per file beside this.
#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

Result<std::unique_ptr<Kernel>> CreateGemm(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateMatMul(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateBatchNormalization(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateInstanceNormalization(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateLayerNormalization(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateSoftmax(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateLogSoftmax(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateHardmax(const KernelDef& def);

void AddLinalgNormKernels(KernelTable& table) {
  table.Add("Gemm", {CreateGemm, 6, 1 << 30, /*fuses_activation=*/true, {}});
  table.Add("MatMul", {CreateMatMul, 1, 1 << 30, /*fuses_activation=*/true, {}});
  table.Add("BatchNormalization", {CreateBatchNormalization, 6, 1 << 30, false, {}});
  table.Add("InstanceNormalization", {CreateInstanceNormalization, 6, 1 << 30, false, {}});
  table.Add("LayerNormalization", {CreateLayerNormalization, 17, 1 << 30, false, {}});
  table.Add("Softmax", {CreateSoftmax, 1, 1 << 30, false, {}});
  table.Add("LogSoftmax", {CreateLogSoftmax, 1, 1 << 30, false, {}});
  table.Add("Hardmax", {CreateHardmax, 1, 1 << 30, false, {}});
}

}  // namespace ferry::cpu
