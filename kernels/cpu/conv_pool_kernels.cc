// Registration of the conv pool kernel family: one line per op, the kernels live one per file beside this.
#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

Result<std::unique_ptr<Kernel>> CreateConv(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateConvTranspose(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateMaxPool(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateAveragePool(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateGlobalAveragePool(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateGlobalMaxPool(const KernelDef& def);
Result<std::unique_ptr<Kernel>> CreateLrn(const KernelDef& def);

void AddConvPoolKernels(KernelTable& table) {
  table.Add("Conv", {CreateConv, 1, 1 << 30, /*fuses_activation=*/true, {}});
  table.Add("ConvTranspose", {CreateConvTranspose, 1, 1 << 30, /*fuses_activation=*/true, {}});
  table.Add("MaxPool", {CreateMaxPool, 1, 1 << 30, false, {}});
  table.Add("AveragePool", {CreateAveragePool, 1, 18, false, {}});  // 19 adds dilations
  table.Add("GlobalAveragePool", {CreateGlobalAveragePool, 1, 1 << 30, false, {}});
  table.Add("GlobalMaxPool", {CreateGlobalMaxPool, 1, 1 << 30, false, {}});
  table.Add("LRN", {CreateLrn, 1, 1 << 30, false, {}});
}

}  // namespace ferry::cpu
