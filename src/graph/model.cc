#include "graph/model.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "graph/memory_planner.h"

namespace ferry {
namespace {

// Inputs whose values decide output shapes (read by the kernel's Prepare). Graph inputs feeding them are
// value-keyed.
const std::map<std::string, std::vector<int>>& ValueSlots() {
  static const std::map<std::string, std::vector<int>> kSlots = {
      {"Reshape", {1}},         {"Expand", {1}},          {"Tile", {1}},       {"Slice", {1, 2, 3, 4}},
      {"Squeeze", {1}},         {"Unsqueeze", {1}},       {"Split", {1}},      {"Pad", {1, 2, 3}},
      {"ReduceSum", {1}},       {"ReduceMean", {1}},      {"ReduceMax", {1}},  {"ReduceMin", {1}},
      {"ReduceProd", {1}},      {"ReduceL1", {1}},        {"ReduceL2", {1}},   {"ReduceLogSum", {1}},
      {"ReduceLogSumExp", {1}}, {"ReduceSumSquare", {1}}, {"TopK", {1}},       {"ConstantOfShape", {0}},
      {"Resize", {1, 2, 3}},    {"Upsample", {1}},        {"OneHot", {1}},     {"Range", {0, 1, 2}},
      {"CumSum", {1}},          {"Trilu", {1}},           {"Dropout", {1, 2}}, {"Clip", {1, 2}},
  };
  return kSlots;
}

// Ops whose outputs depend only on their inputs' shapes, so they can be computed while planning.
bool ShapeOnly(const std::string& op) { return op == "Shape" || op == "Size"; }

// Ops whose first output holds exactly the bytes of their first input: the plan lets the output share the
// input's arena buffer, and the kernel's copy becomes a no-op.
bool ViewOp(const std::string& op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity" ||
         op == "Dropout";
}

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
  m->backend_ = options.backend ? options.backend : &CpuBackend();
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
  if (options.optimize) FERRY_RETURN_IF_ERROR(OptimizeGraph(graph, *m->backend_, &m->stats_, options.optimizer));
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
  for (const Node& n : g.nodes) {
    defs_.push_back(MakeKernelDef(g, n));
    Status s = backend_->Supports(defs_.back());
    if (!s.ok()) return Status(s.code(), g.Describe(n) + ": " + s.message());
  }
  // Value-keyed inputs: graph inputs that reach a value slot through anything but Shape/Size.
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].outputs)
      if (v >= 0) producer[v] = static_cast<int>(i);
  std::vector<bool> seen(g.values.size(), false);
  std::vector<int> work;
  for (const Node& n : g.nodes) {
    auto it = ValueSlots().find(n.op_type);
    if (it == ValueSlots().end()) continue;
    for (int k : it->second)
      if (k < static_cast<int>(n.inputs.size()) && n.inputs[k] >= 0) work.push_back(n.inputs[k]);
  }
  while (!work.empty()) {
    int v = work.back();
    work.pop_back();
    if (seen[v]) continue;
    seen[v] = true;
    int p = producer[v];
    if (p < 0 || ShapeOnly(g.nodes[p].op_type)) continue;
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

Result<std::unique_ptr<Plan>> Model::BuildPlan(const std::vector<TensorView>& inputs, int num_threads) const {
  const Graph& g = graph_;
  auto plan = std::make_unique<Plan>();
  plan->key = PlanKey(inputs);
  std::vector<ValueSlot>& slots = plan->slots;
  slots.resize(g.values.size());
  for (const auto& [v, t] : g.initializers) {
    slots[v].kind = ValueSlot::Kind::kConstant;
    slots[v].constant = t;
    slots[v].dtype = t.dtype();
    slots[v].shape = t.shape();
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    ValueSlot& s = slots[g.inputs[i]];
    s.dtype = inputs[i].dtype;
    s.shape = inputs[i].shape;
    if (value_keyed_[i]) {
      if (!inputs[i].data)
        return InvalidArgument("input \"{}\" decides output shapes; its value is needed to plan", inputs_[i].name);
      FERRY_ASSIGN_OR_RETURN(s.constant,
                             Tensor::FromBytes(inputs[i].dtype, inputs[i].shape, inputs[i].data, inputs[i].nbytes()));
      s.kind = ValueSlot::Kind::kConstant;
    } else {
      s.kind = ValueSlot::Kind::kInput;
      s.index = static_cast<int>(i);
    }
  }
  std::vector<int> first(g.values.size(), -1), last(g.values.size(), -1);
  std::vector<int> root(g.values.size(), -1);  // an aliased value's buffer owner
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  auto owner = [&](int v) { return root[v] >= 0 ? root[v] : v; };
  FoldBudget fold_budget(plan_fold_bytes_, max_folded_bytes_);  // folded constants are not planned memory
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, backend_->CreateKernel(defs_[n]));
    KernelContext ctx;
    ctx.num_threads_ = num_threads;
    bool all_known = true;
    for (int v : node.inputs) {
      ctx.present_.push_back(v >= 0);
      if (v < 0) {
        ctx.inputs_.emplace_back();
        continue;
      }
      const ValueSlot& s = slots[v];
      if (s.kind == ValueSlot::Kind::kUnused)
        return Internal("{} reads \"{}\" before it is computed", g.Describe(node), g.values[v].name);
      bool known = s.kind == ValueSlot::Kind::kConstant;
      all_known = all_known && known;
      ctx.inputs_.push_back(TensorView{s.dtype, s.shape, known ? s.constant.data() : nullptr});
    }
    ctx.outputs_.resize(node.outputs.size());
    Status st = kernel->Prepare(ctx);
    if (!st.ok()) return Status(st.code(), g.Describe(node) + ": " + st.message());
    for (size_t k = 0; k < ctx.outputs_.size(); ++k) {
      const TensorView& o = ctx.outputs_[k];
      if (DataTypeSize(o.dtype) == 0) return Internal("{}: output {} has no type after Prepare", g.Describe(node), k);
      for (int64_t d : o.shape)
        if (d < 0) return Internal("{}: output {} has negative dimension", g.Describe(node), k);
    }
    const bool deterministic = node.op_type.rfind("Random", 0) != 0;
    if ((all_known || ShapeOnly(node.op_type)) && deterministic && fold_budget.Take(OutputBytes(ctx))) {
      // Computable now: fold it into constants of this plan.
      auto outs = ComputeOnHost(*kernel, ctx);
      if (!outs.ok()) return Status(outs.status().code(), g.Describe(node) + ": " + outs.status().message());
      for (size_t k = 0; k < node.outputs.size(); ++k) {
        ValueSlot& s = slots[node.outputs[k]];
        s.kind = ValueSlot::Kind::kConstant;
        s.constant = std::move((*outs)[k]);
        s.dtype = s.constant.dtype();
        s.shape = s.constant.shape();
      }
      ++plan->folded_nodes;
      continue;
    }
    const int step = static_cast<int>(plan->steps.size());
    for (int v : node.inputs)
      if (v >= 0 && slots[v].kind == ValueSlot::Kind::kArena) last[owner(v)] = step;
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      int v = node.outputs[k];
      ValueSlot& s = slots[v];
      s.kind = ValueSlot::Kind::kArena;
      s.dtype = ctx.outputs_[k].dtype;
      s.shape = ctx.outputs_[k].shape;
      first[v] = last[v] = step;
      const int in = node.inputs.empty() ? -1 : node.inputs[0];
      if (k == 0 && ViewOp(node.op_type) && !is_output[v] && in >= 0 && !is_output[in] &&
          slots[in].kind == ValueSlot::Kind::kArena && slots[in].dtype == s.dtype &&
          NumElements(slots[in].shape) == NumElements(s.shape)) {
        root[v] = owner(in);
      }
    }
    plan->scratch_bytes = std::max(plan->scratch_bytes, ctx.scratch_bytes_);
    PlanStep ps;
    ps.node = static_cast<int>(n);
    ps.kernel = std::move(kernel);
    ps.ctx = std::move(ctx);
    ps.inputs = node.inputs;
    ps.outputs = node.outputs;
    plan->steps.push_back(std::move(ps));
  }
  // Graph outputs computed at run time get their own memory, handed to the caller without a copy.
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    ValueSlot& s = slots[g.outputs[i]];
    if (s.kind == ValueSlot::Kind::kArena) {
      s.kind = ValueSlot::Kind::kOutput;
      s.index = static_cast<int>(i);
      plan->output_bytes += static_cast<size_t>(NumElements(s.shape)) * DataTypeSize(s.dtype);
    }
  }
  std::vector<BufferRequest> requests;
  std::vector<int> ids;
  for (size_t v = 0; v < slots.size(); ++v) {
    if (slots[v].kind != ValueSlot::Kind::kArena || root[v] >= 0) continue;
    requests.push_back(BufferRequest{static_cast<size_t>(NumElements(slots[v].shape)) * DataTypeSize(slots[v].dtype),
                                     first[v], last[v]});
    ids.push_back(static_cast<int>(v));
  }
  MemoryPlan mem = PlanMemory(requests);
  for (size_t i = 0; i < ids.size(); ++i) slots[ids[i]].offset = mem.offsets[i];
  for (size_t v = 0; v < slots.size(); ++v)
    if (root[v] >= 0) slots[v].offset = slots[root[v]].offset;
  plan->arena_bytes = mem.arena_bytes;
  plan->intermediate_bytes = mem.total_bytes;
  return plan;
}

}  // namespace ferry
