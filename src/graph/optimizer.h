// Load-time graph rewrites: constant folding and exact fusions.
//
// - Folding: a node whose inputs are all initializers (Constant nodes included) is computed once with the
//   CPU kernels (always: a device's kernels would need device memory) and replaced by initializers, within a total byte
//   budget (OptimizerOptions): a node whose outputs do not fit in what is left of it stays in the graph and runs at
//   inference, where its memory is planned (and counted against the load-time memory limit) like any other node's.
// - Conv -> BatchNormalization (inference, constant parameters): folded into the Conv's weights and bias.
// - Conv -> Add(constant per-channel) and MatMul -> Add(constant per-column): the add becomes the bias.
// - Conv/Gemm/MatMul -> Relu/LeakyRelu/Sigmoid/Tanh/Clip/HardSigmoid: the activation becomes the producer's
//   epilogue, when the kernel that will run the producer fuses activations: that of the first device in the
//   preference list whose table has the op.
// A rewrite applies only where the intermediate value has exactly one consumer and is not a graph output, so
// what the graph computes does not change beyond float rounding.
#pragma once

#include <vector>

#include "backends/device.h"
#include "graph/graph.h"

namespace ferry {

struct OptimizerOptions {
  // Bytes that constant folding may add as initializers, over all folded nodes together (default 256 MiB).
  // Model files declare shapes: a 100-byte ConstantOfShape, Expand, Range or Tile may ask for gigabytes.
  size_t max_folded_bytes = size_t{256} << 20;
};

// What constant folding may still add. A node whose outputs take at most kSmallBytes (a shape computation,
// whose result kernels downstream may need as a constant) draws on a pool of its own, as large as the main
// one, so that large constants cannot crowd shape computations out: folding adds at most 2 * the budget.
// Not thread-safe.
class FoldBudget {
 public:
  static constexpr size_t kSmallBytes = 4096;

  FoldBudget(size_t large_bytes, size_t small_bytes) : large_left_(large_bytes), small_left_(small_bytes) {}
  explicit FoldBudget(size_t max_bytes) : FoldBudget(max_bytes, max_bytes) {}

  // True, and `bytes` are taken from the budget, when a node whose outputs take `bytes` may be folded.
  bool Take(size_t bytes) {
    size_t& pool = bytes <= kSmallBytes && bytes <= small_left_ ? small_left_ : large_left_;
    if (bytes > pool) return false;
    pool -= bytes;
    return true;
  }
  size_t large_left() const { return large_left_; }

 private:
  size_t large_left_;
  size_t small_left_;
};

struct OptimizerStats {
  int folded_nodes = 0;
  int fused_nodes = 0;
  size_t folded_bytes = 0;  // bytes of the initializers folding made
  size_t budget_left = 0;   // FoldBudget::large_left() after folding
  // Nodes left to run time because their outputs did not fit in the folding budget: how many, and the
  // message naming each of the first kMaxUnfoldedMessages (each also logged at info level, then one line
  // counting the rest).
  static constexpr size_t kMaxUnfoldedMessages = 8;
  int unfolded_nodes = 0;
  std::vector<std::string> unfolded_messages;
};

// Bytes of a tensor of `shape` and `dtype`; saturates at SIZE_MAX instead of overflowing (negative dims count as
// 0). For sizes read from model files, which may declare anything.
size_t SaturatingByteSize(const Shape& shape, DataType dtype);
// The bytes of a Prepared context's outputs, saturating likewise.
size_t OutputBytes(const KernelContext& ctx);

// Builds the kernel definition of `node` in `graph` (types from the graph's value infos).
KernelDef MakeKernelDef(const Graph& graph, const Node& node);

// `devices`: where the model's nodes will be placed, in preference order (the CPU, always able, is implied last).
Status OptimizeGraph(Graph& graph, const std::vector<const Device*>& devices, OptimizerStats* stats,
                     const OptimizerOptions& options = {});

// Runs a prepared kernel once on host memory and returns its outputs. `ctx` must have been Prepared with all
// input data set.
Result<std::vector<Tensor>> ComputeOnHost(Kernel& kernel, KernelContext& ctx);

}  // namespace ferry
