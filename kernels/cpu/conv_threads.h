// How many threads Conv and ConvTranspose plan their per-thread buffers for, and how they spread units of work.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
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

// Runs units [0, units) on up to `threads` threads. make_worker(t) is called once on each thread t (only t = 0
// when threads <= 1) and returns the callable that runs one unit there, typically bound to thread t's buffer.
// One parallel region and no barrier: under load, every synchronization point costs a scheduler delay. Each
// thread owns whole units, taking them as it goes (not in fixed shares) so that a thread which loses its core
// does not hold the others back.
template <typename MakeWorker>
void RunUnitsDynamic(int64_t units, int threads, MakeWorker&& make_worker) {
  if (threads <= 1) {
    auto work = make_worker(0);
    for (int64_t u = 0; u < units; ++u) work(u);
    return;
  }
  std::atomic<int64_t> next{0};
#pragma omp parallel num_threads(threads)
  {
    auto work = make_worker(omp_get_thread_num());
    for (int64_t u = next.fetch_add(1); u < units; u = next.fetch_add(1)) work(u);
  }
}

}  // namespace ferry::cpu
