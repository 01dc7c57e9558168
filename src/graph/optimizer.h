// Load-time graph rewrites: constant folding and exact fusions.
//
// - Folding: a node whose inputs are all initializers (Constant nodes included) is computed once with the
//   CPU kernels and replaced by initializers.
// - Conv -> BatchNormalization (inference, constant parameters): folded into the Conv's weights and bias.
// - Conv -> Add(constant per-channel) and MatMul -> Add(constant per-column): the add becomes the bias.
// - Conv/Gemm/MatMul -> Relu/LeakyRelu/Sigmoid/Tanh/Clip/HardSigmoid: the activation becomes the producer's
//   epilogue, when the backend's kernel fuses activations.
// A rewrite applies only where the intermediate value has exactly one consumer and is not a graph output, so
// what the graph computes does not change beyond float rounding.
#pragma once

#include "backends/backend.h"
#include "graph/graph.h"

namespace ferry {

struct OptimizerStats {
  int folded_nodes = 0;
  int fused_nodes = 0;
};

// Builds the kernel definition of `node` in `graph` (types from the graph's value infos).
KernelDef MakeKernelDef(const Graph& graph, const Node& node);

Status OptimizeGraph(Graph& graph, const Backend& backend, OptimizerStats* stats);

// Runs a prepared kernel once on host memory and returns its outputs. `ctx` must have been Prepared with all
// input data set.
Result<std::vector<Tensor>> ComputeOnHost(Kernel& kernel, KernelContext& ctx);

}  // namespace ferry
