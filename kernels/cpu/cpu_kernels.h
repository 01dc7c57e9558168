// The CPU backend's kernel table, built explicitly from one registration function per kernel family.
// Each family's function lists its ops by name (see the *_kernels.cc files); nothing self-registers.
#pragma once

#include "kernels/kernel.h"

namespace ferry::cpu {

// Every op the CPU backend runs.
const KernelTable& CpuKernelTable();

// Families (one function each, defined beside the family's kernels).
void AddElementwiseKernels(KernelTable& table);  // arithmetic, comparison, activations, Cast, Where
void AddConvPoolKernels(KernelTable& table);     // Conv, ConvTranspose, pools
void AddLinalgNormKernels(KernelTable& table);   // Gemm, MatMul, normalizations, Softmax
void AddTensorKernels(KernelTable& table);       // shape manipulation, Gather, Slice, Pad, ...
void AddReduceKernels(KernelTable& table);       // reductions, ArgMax, TopK, Resize

// Pins the BLAS threads of the calling thread (OpenBLAS OpenMP build: per-thread ICV).
void SetComputeThreads(int threads);

}  // namespace ferry::cpu
