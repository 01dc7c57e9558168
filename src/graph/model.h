// Model: a loaded, validated, optimized ONNX graph bound to a backend, and the plans that run it.
//
// Loading refuses, with a message naming the node, op, opset, attribute or type at fault, anything that
// cannot run. A Model is immutable after Load and shared by every worker (thread-safe); each worker runs it
// through its own Session (session.h), which caches one Plan per input signature.
//
// The first dimension of an input may be symbolic (dim_param or -1): that is the batch. Plans are made per
// concrete input shapes; "value-keyed" inputs (small integer inputs whose values decide shapes, e.g. a
// Reshape target fed as an input) are part of the plan key as well.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "common/status.h"
#include "graph/graph.h"
#include "graph/onnx_loader.h"
#include "graph/optimizer.h"

namespace ferry {

struct TensorSignature {
  std::string name;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;
  std::vector<Dim> shape;  // value -1: symbolic
};

// One runtime step of a plan: a kernel with its contexts' shapes fixed.
struct PlanStep {
  int node = -1;  // index in Model::graph().nodes
  std::unique_ptr<Kernel> kernel;
  KernelContext ctx;         // shapes and types set; data pointers bound per run
  std::vector<int> inputs;   // value ids (-1 absent)
  std::vector<int> outputs;  // value ids
};

// Where a value lives during a run.
struct ValueSlot {
  enum class Kind { kUnused, kInput, kConstant, kArena, kOutput };
  Kind kind = Kind::kUnused;
  int index = -1;     // kInput: graph input index; kOutput: graph output index
  Tensor constant;    // kConstant
  size_t offset = 0;  // kArena
  DataType dtype = DataType::kUndefined;
  Shape shape;
};

// An execution plan for one input signature. Owned by one Session; not thread-safe (its kernels keep state).
struct Plan {
  std::string key;
  std::vector<PlanStep> steps;
  std::vector<ValueSlot> slots;   // by value id
  size_t arena_bytes = 0;         // peak intermediate memory with reuse
  size_t intermediate_bytes = 0;  // sum of all intermediates without reuse
  size_t scratch_bytes = 0;       // largest kernel scratch
  size_t output_bytes = 0;
  int folded_nodes = 0;  // nodes computed while planning
};

struct ModelOptions {
  const Backend* backend = nullptr;  // nullptr: the CPU backend
  bool optimize = true;              // constant folding and fusions
  // The constant folding budget (optimizer.h). It also bounds what BuildPlan computes while planning: a node
  // that would exceed it runs as a step, so its memory is planned (and counted) like any intermediate's.
  OptimizerOptions optimizer;
};

class Model {
 public:
  static Result<std::shared_ptr<const Model>> Load(const std::string& path, const ModelOptions& options = {});
  static Result<std::shared_ptr<const Model>> FromGraph(Graph graph, const OnnxModelInfo& info,
                                                        const ModelOptions& options = {});

  const std::vector<TensorSignature>& inputs() const { return inputs_; }
  const std::vector<TensorSignature>& outputs() const { return outputs_; }
  int opset() const { return graph_.opset; }
  const OnnxModelInfo& info() const { return info_; }
  // Op types of the model as exported (before optimization).
  const std::set<std::string>& ops() const { return ops_; }
  size_t weight_bytes() const { return weight_bytes_; }
  const OptimizerStats& optimizer_stats() const { return stats_; }
  const Graph& graph() const { return graph_; }
  const Backend& backend() const { return *backend_; }
  // Inputs whose values are part of the plan key.
  const std::vector<bool>& value_keyed_inputs() const { return value_keyed_; }

  // Checks inputs against the signature (count, types, ranks, fixed dims). `inputs` in inputs() order.
  Status CheckInputs(const std::vector<TensorView>& inputs) const;
  // The plan key of these inputs.
  std::string PlanKey(const std::vector<TensorView>& inputs) const;
  // Builds a plan for a worker with `num_threads` compute threads (kernels size per-thread scratch from it).
  // REQUIRES: CheckInputs(inputs).ok(); data is read only for value-keyed inputs.
  Result<std::unique_ptr<Plan>> BuildPlan(const std::vector<TensorView>& inputs, int num_threads = 1) const;
  // Input shapes for a batch size: symbolic first dims become `batch`, other symbolic dims 1.
  std::vector<Shape> ShapesForBatch(int64_t batch) const;

 private:
  Model() = default;
  Status Init();

  Graph graph_;
  OnnxModelInfo info_;
  const Backend* backend_ = nullptr;
  std::vector<TensorSignature> inputs_, outputs_;
  std::set<std::string> ops_;
  size_t weight_bytes_ = 0;
  OptimizerStats stats_;
  std::vector<KernelDef> defs_;  // per node
  std::vector<bool> value_keyed_;
  // Folding while planning, per plan: the large and small pools of a FoldBudget.
  size_t plan_fold_bytes_ = OptimizerOptions{}.max_folded_bytes;
  size_t max_folded_bytes_ = OptimizerOptions{}.max_folded_bytes;
};

}  // namespace ferry
