// Fan-out helper for CPU kernels: OpenMP with an explicit thread count, so a worker's budget is respected.
#pragma once

#include <omp.h>

#include <cstdint>

namespace ferry::cpu {

// Calls fn(begin, end) over [0, n) in contiguous chunks on up to `threads` threads. Runs inline when the
// work is small (n * cost_per_item < ~32k) or threads <= 1.
template <typename F>
void ParallelFor(int64_t n, int threads, int64_t cost_per_item, F&& fn) {
  if (n <= 0) return;
  if (threads <= 1 || n == 1 || n * cost_per_item < 32768) {
    fn(int64_t{0}, n);
    return;
  }
  int t = threads < n ? threads : static_cast<int>(n);
#pragma omp parallel num_threads(t)
  {
    int id = omp_get_thread_num();
    int nt = omp_get_num_threads();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = id * chunk;
    int64_t e = b + chunk < n ? b + chunk : n;
    if (b < e) fn(b, e);
  }
}

}  // namespace ferry::cpu
