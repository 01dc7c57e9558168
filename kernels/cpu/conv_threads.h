// How many threads Conv and ConvTranspose plan their per-thread buffers for.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/kernel.h"

namespace ferry::cpu {

// Per-thread column buffers are planned for at most this many threads.
constexpr int kMaxPlannedThreads = 16;

// The thread budget to plan for in Prepare: the context's, or the BLAS threads pinned on the planning thread
// when that is larger (a plan may be made before the worker that runs it sets the context's count). Compute
// then uses min(ctx.num_threads(), this).
inline int PlannedThreads(const KernelContext& ctx) {
  return std::clamp(std::max(ctx.num_threads(), omp_get_max_threads()), 1, kMaxPlannedThreads);
}

// True when `units` equal pieces of work keep `threads` threads about equally busy.
inline bool Balanced(int64_t units, int threads) {
  return units >= threads && (units % threads == 0 || units >= 4 * static_cast<int64_t>(threads));
}

}  // namespace ferry::cpu
