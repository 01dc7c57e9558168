#include <omp.h>

#include "kernels/cpu/cpu_kernels.h"

namespace ferry::cpu {

const KernelTable& CpuKernelTable() {
  static const KernelTable* table = [] {
    auto* t = new KernelTable();
    AddElementwiseKernels(*t);
    AddConvPoolKernels(*t);
    AddLinalgNormKernels(*t);
    AddTensorKernels(*t);
    AddReduceKernels(*t);
    return t;
  }();
  return *table;
}

void SetComputeThreads(int threads) { omp_set_num_threads(threads < 1 ? 1 : threads); }

}  // namespace ferry::cpu
