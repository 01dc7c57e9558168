#include "graph/model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "backends/device_registry.h"

namespace ferry {
namespace {

std::vector<TensorSignature> Signatures(const Graph& g, const std::vector<int>& ids) {
  std::vector<TensorSignature> out;
  for (int v : ids) {
    const ValueInfo& vi = g.values[v];
    TensorSignature s{vi.name, vi.dtype, vi.has_shape, vi.shape};
    auto it = g.initializers.find(v);
    if (it != g.initializers.end()) {
      s.dtype = it->second.dtype();
      s.has_shape = true;
      s.shape.clear();
      for (int64_t d : it->second.shape()) s.shape.push_back(Dim{d, ""});
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<std::shared_ptr<const Model>> Model::Load(const std::string& path, const ModelOptions& options) {
  OnnxModelInfo info;
  FERRY_ASSIGN_OR_RETURN(Graph graph, LoadOnnxModel(path, &info));
  return FromGraph(std::move(graph), info, options);
}

Result<std::shared_ptr<const Model>> Model::FromGraph(Graph graph, const OnnxModelInfo& info,
                                                      const ModelOptions& options) {
  std::shared_ptr<Model> m(new Model());
  m->devices_ = options.devices;
  if (std::find(m->devices_.begin(), m->devices_.end(), &CpuDevice()) == m->devices_.end())
    m->devices_.push_back(&CpuDevice());
  m->info_ = info;
  for (const Node& n : graph.nodes) m->ops_.insert(n.domain.empty() ? n.op_type : n.domain + "." + n.op_type);
  for (const auto& [v, t] : graph.initializers) m->weight_bytes_ += t.nbytes();
  // Unused optional outputs ("" in ONNX) still get memory: kernels write every output they declare.
  for (Node& n : graph.nodes)
    for (int& v : n.outputs)
      if (v < 0) v = graph.NewValue((n.name.empty() ? n.op_type : n.name) + "_unused");
  // Unsupported nodes are refused by Init(), after folding has turned Constant nodes into initializers
  // (kernels may require some inputs to be constant); rewritten nodes keep their exported names.
  m->max_folded_bytes_ = options.optimizer.max_folded_bytes;
  if (options.optimize) FERRY_RETURN_IF_ERROR(OptimizeGraph(graph, m->devices_, &m->stats_, options.optimizer));
  // Planning folds too (value-keyed inputs, shapes): per plan, it gets what loading left of the budget.
  m->plan_fold_bytes_ = options.optimize ? m->stats_.budget_left : options.optimizer.max_folded_bytes;
  m->graph_ = std::move(graph);
  FERRY_RETURN_IF_ERROR(m->Init());
  return std::shared_ptr<const Model>(std::move(m));
}

Status Model::Init() {
  const Graph& g = graph_;
  inputs_ = Signatures(g, g.inputs);
  outputs_ = Signatures(g, g.outputs);
  for (const auto& s : inputs_) {
    if (DataTypeSize(s.dtype) == 0)
      return Unimplemented("input \"{}\" has type {}, which is not supported", s.name, DataTypeName(s.dtype));
  }
  // Every node runs on the CPU, the fallback of every preference list (an op no device runs is refused here);
  // its placement attributes, the same in every backend's table, come from the CPU's entry.
  std::vector<const KernelPlacement*> placement;
  for (const Node& n : g.nodes) {
    defs_.push_back(MakeKernelDef(g, n));
    Status s = CpuDevice().Supports(defs_.back());
    if (!s.ok()) return Status(s.code(), g.Describe(n) + ": " + s.message());
    placement.push_back(&CpuDevice().FindKernel(defs_.back()).value()->placement);
  }
  // Value-keyed inputs: graph inputs that reach a host input through anything but a shape-only node.
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].outputs)
      if (v >= 0) producer[v] = static_cast<int>(i);
  std::vector<bool> seen(g.values.size(), false);
  std::vector<int> work;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    for (int k : placement[i]->host_inputs)
      if (k < static_cast<int>(n.inputs.size()) && n.inputs[k] >= 0) work.push_back(n.inputs[k]);
  }
  while (!work.empty()) {
    int v = work.back();
    work.pop_back();
    if (seen[v]) continue;
    seen[v] = true;
    int p = producer[v];
    if (p < 0 || placement[p]->shape_only) continue;
    for (int in : g.nodes[p].inputs)
      if (in >= 0) work.push_back(in);
  }
  value_keyed_.assign(g.inputs.size(), false);
  for (size_t i = 0; i < g.inputs.size(); ++i) value_keyed_[i] = seen[g.inputs[i]];

  // A trial plan at batch 1 surfaces shape errors at load, when no input's values are needed.
  bool keyed = false;
  for (bool k : value_keyed_) keyed = keyed || k;
  if (!keyed) {
    std::vector<Shape> shapes = ShapesForBatch(1);
    std::vector<TensorView> views;
    for (size_t i = 0; i < inputs_.size(); ++i) views.push_back(TensorView{inputs_[i].dtype, shapes[i], nullptr});
    auto plan = BuildPlan(views);
    if (!plan.ok()) return plan.status();
  }
  return Status::Ok();
}

std::vector<Shape> Model::ShapesForBatch(int64_t batch) const {
  std::vector<Shape> shapes;
  for (const auto& s : inputs_) {
    Shape shape;
    for (size_t d = 0; d < s.shape.size(); ++d)
      shape.push_back(s.shape[d].fixed() ? s.shape[d].value : (d == 0 ? batch : 1));
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

Status Model::CheckInputs(const std::vector<TensorView>& inputs) const {
  if (inputs.size() != inputs_.size()) {
    return InvalidArgument("the model takes {} inputs, got {}", inputs_.size(), inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSignature& s = inputs_[i];
    const TensorView& t = inputs[i];
    if (t.dtype != s.dtype) {
      return InvalidArgument("input \"{}\" must have type {}, got {}", s.name, DataTypeName(s.dtype),
                             DataTypeName(t.dtype));
    }
    for (int64_t d : t.shape)
      if (d < 0) return InvalidArgument("input \"{}\" has a negative dimension", s.name);
    if (!s.has_shape) continue;
    if (t.shape.size() != s.shape.size()) {
      return InvalidArgument("input \"{}\" must have rank {}, got shape {}", s.name, s.shape.size(),
                             ShapeToString(t.shape));
    }
    for (size_t d = 0; d < s.shape.size(); ++d) {
      if (s.shape[d].fixed() && s.shape[d].value != t.shape[d]) {
        return InvalidArgument("input \"{}\" must have dimension {} = {}, got shape {}", s.name, d, s.shape[d].value,
                               ShapeToString(t.shape));
      }
    }
  }
  return Status::Ok();
}

std::string Model::PlanKey(const std::vector<TensorView>& inputs) const {
  std::string key;
  for (size_t i = 0; i < inputs.size(); ++i) {
    key += ShapeToString(inputs[i].shape);
    if (value_keyed_[i] && inputs[i].data) {
      key += '=';
      key.append(static_cast<const char*>(inputs[i].data), inputs[i].nbytes());
    }
    key += ';';
  }
  return key;
}

std::map<Location, size_t> Model::DeviceWeightBytes() const {
  MutexLock lock(weights_mu_);
  std::map<Location, size_t> out;
  for (const auto& [location, store] : weights_)
    if (location != kHostLocation && store->bytes() > 0) out[location] = store->bytes();
  return out;
}

std::shared_ptr<WeightStore> Model::WeightsOn(const Device& device) const {
  MutexLock lock(weights_mu_);
  std::shared_ptr<WeightStore>& store = weights_[device.location()];
  if (!store) store = std::make_shared<WeightStore>(device);
  return store;
}

}  // namespace ferry
