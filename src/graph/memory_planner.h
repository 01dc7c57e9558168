// Assigns arena offsets to intermediate buffers so that buffers whose lifetimes overlap never share bytes.
//
// A pure function over data: the graph layer lists each runtime intermediate with its size and the first and
// last step that touch it; the planner places them greedily (largest first, lowest offset that fits between
// the buffers already placed whose lifetimes overlap), as ONNX Runtime's and TFLite's arena planners do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ferry {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // step that writes it
  int last_step = 0;   // last step that reads it (inclusive)
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request, 64-byte aligned
  size_t arena_bytes = 0;       // the peak: what the arena must hold
  size_t total_bytes = 0;       // sum of all (aligned) requests: what no reuse would cost
};

inline constexpr size_t kArenaAlignment = 64;

MemoryPlan PlanMemory(const std::vector<BufferRequest>& requests);

}  // namespace ferry
