// Model: a loaded, validated, optimized ONNX graph, and the plans that run it on a list of devices.
//
// Loading refuses, with a message naming the node, op, opset, attribute or type at fault, anything that
// cannot run. A Model is immutable after Load and shared by every worker (thread-safe); each worker runs it
// through its own Session (session.h), which caches one Plan per input signature.
//
// Placement: a plan puts each node on the first device of its preference list whose kernel table runs it (the
// CPU, able to run every node, is implied last), inserts copies where a value crosses devices, and plans one
// arena per location (plan.h). Constants a device reads live in the model's WeightStore for that device, so every
// instance on a device shares one copy. Constant folding always runs on the CPU.
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

#include "backends/device.h"
#include "common/status.h"
#include "graph/graph.h"
#include "graph/onnx_loader.h"
#include "graph/optimizer.h"
#include "graph/plan.h"
#include "graph/weight_store.h"

namespace ferry {

struct TensorSignature {
  std::string name;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;
  std::vector<Dim> shape;  // value -1: symbolic
};

struct ModelOptions {
  // Where the model's nodes should run, in preference order; the CPU, when not listed, is implied last (empty: the
  // CPU only). Every device must be registered (device_registry.h). It
  // decides fusions (a device whose kernel does not fuse an activation keeps it separate) and the trial plan;
  // each plan may name its own list (PlanOptions).
  std::vector<const Device*> devices;
  bool optimize = true;  // constant folding and fusions
  // The constant folding budget (optimizer.h). It also bounds what BuildPlan computes while planning: a node
  // that would exceed it runs as a step, so its memory is planned (and counted) like any intermediate's.
  OptimizerOptions optimizer;
};

struct PlanOptions {
  int num_threads = 1;  // compute threads of the worker (kernels size per-thread scratch by it)
  // Preference order, the CPU implied last when not listed; empty: ModelOptions::devices. InvalidArgument for a
  // device that is not registered.
  std::vector<const Device*> devices;
  // False: constants a device reads are counted, not uploaded (their device_data stays null), so the plan
  // describes a device's memory without taking any; such a plan cannot run (for admission estimates).
  bool upload = true;
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
  // ModelOptions::devices, with the CPU (last unless listed).
  const std::vector<const Device*>& devices() const { return devices_; }
  // Inputs whose values are part of the plan key.
  const std::vector<bool>& value_keyed_inputs() const { return value_keyed_; }

  // Checks inputs against the signature (count, types, ranks, fixed dims). `inputs` in inputs() order.
  Status CheckInputs(const std::vector<TensorView>& inputs) const;
  // The plan key of these inputs.
  std::string PlanKey(const std::vector<TensorView>& inputs) const;
  // Builds a plan (plan_builder.cc). REQUIRES: CheckInputs(inputs).ok(); data is read only for value-keyed
  // inputs, which are host memory.
  Result<std::unique_ptr<Plan>> BuildPlan(const std::vector<TensorView>& inputs, const PlanOptions& options) const;
  Result<std::unique_ptr<Plan>> BuildPlan(const std::vector<TensorView>& inputs, int num_threads = 1) const {
    return BuildPlan(inputs, PlanOptions{num_threads, {}});
  }
  // The model's weights on `device`, shared by its plans there (created empty on first use; uploads happen as
  // plans need them). Thread-safe.
  std::shared_ptr<WeightStore> WeightsOn(const Device& device) const EXCLUDES(weights_mu_);
  // Bytes of the model's weights uploaded to each device so far (its stores' WeightStore::bytes()), by location;
  // the host copy (weight_bytes()) is not included.
  std::map<Location, size_t> DeviceWeightBytes() const EXCLUDES(weights_mu_);
  // Input shapes for a batch size: symbolic first dims become `batch`, other symbolic dims 1.
  std::vector<Shape> ShapesForBatch(int64_t batch) const;

 private:
  Model() = default;
  Status Init();

  Graph graph_;
  OnnxModelInfo info_;
  std::vector<const Device*> devices_;
  std::vector<TensorSignature> inputs_, outputs_;
  std::set<std::string> ops_;
  size_t weight_bytes_ = 0;
  OptimizerStats stats_;
  std::vector<KernelDef> defs_;  // per node
  std::vector<bool> value_keyed_;
  // Folding while planning, per plan: the large and small pools of a FoldBudget.
  size_t plan_fold_bytes_ = OptimizerOptions{}.max_folded_bytes;
  size_t max_folded_bytes_ = OptimizerOptions{}.max_folded_bytes;
  mutable Mutex weights_mu_;
  mutable std::map<Location, std::shared_ptr<WeightStore>> weights_ GUARDED_BY(weights_mu_);
};

}  // namespace ferry
