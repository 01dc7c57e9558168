#include "graph/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace ferry {

MemoryPlan PlanMemory(const std::vector<BufferRequest>& requests) {
  const size_t n = requests.size();
  MemoryPlan plan;
  plan.offsets.assign(n, 0);
  std::vector<size_t> size(n);
  for (size_t i = 0; i < n; ++i) {
    size[i] = (requests[i].bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    plan.total_bytes += size[i];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return size[a] > size[b]; });

  std::vector<size_t> placed;
  placed.reserve(n);
  for (size_t i : order) {
    if (size[i] == 0) continue;
    // Intervals [offset, offset+size) of placed buffers alive at the same time, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t j : placed) {
      bool overlap = requests[i].first_step <= requests[j].last_step && requests[j].first_step <= requests[i].last_step;
      if (overlap) busy.emplace_back(plan.offsets[j], plan.offsets[j] + size[j]);
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (const auto& [b, e] : busy) {
      if (b >= offset && b - offset >= size[i] && b - offset < best_gap) {
        best = offset;
        best_gap = b - offset;
      }
      offset = std::max(offset, e);
    }
    if (best == SIZE_MAX) best = offset;
    plan.offsets[i] = best;
    plan.arena_bytes = std::max(plan.arena_bytes, best + size[i]);
    placed.push_back(i);
  }
  return plan;
}

}  // namespace ferry
