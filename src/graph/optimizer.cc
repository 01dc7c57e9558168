#include "graph/optimizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "backends/device_registry.h"

namespace ferry {
namespace {

bool IsDeterministic(const Node& n) {
  static const std::set<std::string> kRandom = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                                "RandomUniformLike", "Multinomial",   "Bernoulli"};
  return !kRandom.count(n.op_type);
}

// Consumers of each value, and which values are graph outputs.
struct Uses {
  std::vector<int> count;
  std::vector<bool> is_output;
  Uses(const Graph& g) : count(g.values.size(), 0), is_output(g.values.size(), false) {
    for (const Node& n : g.nodes)
      for (int v : n.inputs)
        if (v >= 0) ++count[v];
    for (int v : g.outputs) is_output[v] = true;
  }
  bool SingleInternal(int v) const { return v >= 0 && count[v] == 1 && !is_output[v]; }
};

int FindConsumer(const Graph& g, int value, size_t after) {
  for (size_t i = after + 1; i < g.nodes.size(); ++i)
    for (int v : g.nodes[i].inputs)
      if (v == value) return static_cast<int>(i);
  return -1;
}

const Tensor* Init(const Graph& g, int v) {
  if (v < 0) return nullptr;
  auto it = g.initializers.find(v);
  return it == g.initializers.end() ? nullptr : &it->second;
}

bool IsFloatInit(const Tensor* t) { return t && t->dtype() == DataType::kFloat; }

std::string MiB(size_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// The entry of the device that would run `op` (unfused): the first in `devices` whose table has it, else the CPU's.
const KernelEntry* PlacedEntry(const std::vector<const Device*>& devices, const std::string& op, int opset) {
  for (const Device* d : devices)
    if (const KernelEntry* e = d->kernels().Find(op, opset)) return e;
  return CpuDevice().kernels().Find(op, opset);
}

Status FoldConstants(Graph& g, const OptimizerOptions& options, OptimizerStats* stats) {
  const Device& cpu = CpuDevice();
  std::vector<Node> kept;
  FoldBudget budget(options.max_folded_bytes);
  for (Node& n : g.nodes) {
    bool all_const = IsDeterministic(n) && n.domain.empty();
    for (int v : n.inputs)
      if (v >= 0 && !g.initializers.count(v)) all_const = false;
    bool is_output_only = true;
    for (int v : n.outputs)
      if (v >= 0) is_output_only = false;
    if (!all_const || is_output_only) {
      kept.push_back(std::move(n));
      continue;
    }
    KernelDef def = MakeKernelDef(g, n);
    auto kernel = cpu.CreateKernel(def);
    bool folded = false;
    if (kernel.ok()) {
      KernelContext ctx;
      for (int v : n.inputs) {
        ctx.present_.push_back(v >= 0);
        ctx.inputs_.push_back(v >= 0 ? g.initializers[v].view() : TensorView{});
      }
      ctx.outputs_.resize(n.outputs.size());
      // Every input is known, so a shape the node refuses (too large, an overflow, a NaN Range step) is
      // refused now, as planning would refuse it, naming the node.
      Status prepared = (*kernel)->Prepare(ctx);
      if (!prepared.ok()) return Status(prepared.code(), g.Describe(n) + ": " + prepared.message());
      const size_t bytes = OutputBytes(ctx);
      if (budget.Take(bytes)) {
        auto outs = ComputeOnHost(**kernel, ctx);
        if (outs.ok()) {
          for (size_t i = 0; i < n.outputs.size(); ++i) {
            int v = n.outputs[i];
            if (v < 0) continue;
            g.initializers[v] = std::move((*outs)[i]);
            g.values[v].dtype = g.initializers[v].dtype();
          }
          folded = true;
          stats->folded_bytes += bytes;
          ++stats->folded_nodes;
        }
      } else {
        ++stats->unfolded_nodes;
        std::string message = fmt::format(
            "{}: not folded, its outputs ({}) exceed what is left of the constant folding budget ({} of {}); "
            "computed at run time",
            g.Describe(n), bytes == SIZE_MAX ? std::string("too many bytes to count") : MiB(bytes),
            MiB(budget.large_left()), MiB(options.max_folded_bytes));
        if (stats->unfolded_messages.size() < OptimizerStats::kMaxUnfoldedMessages) {
          spdlog::info("{}", message);
          stats->unfolded_messages.push_back(std::move(message));
        }
      }
    }
    // A node without a kernel stays; Model::Init refuses it with the node's name.
    if (!folded) kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  stats->budget_left = budget.large_left();
  // One line per node would let a model of many large constants flood the log.
  if (stats->unfolded_nodes > static_cast<int>(OptimizerStats::kMaxUnfoldedMessages)) {
    spdlog::info("{} more nodes not folded: over the constant folding budget ({})",
                 stats->unfolded_nodes - static_cast<int>(OptimizerStats::kMaxUnfoldedMessages),
                 MiB(options.max_folded_bytes));
  }
  return Status::Ok();
}

// Conv -> BatchNormalization with constant weights: scale W and shift B per output channel.
void FuseConvBatchNorm(Graph& g, OptimizerStats* stats) {
  Uses uses(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& conv = g.nodes[i];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    int y = conv.outputs[0];
    if (!uses.SingleInternal(y)) continue;
    int j = FindConsumer(g, y, i);
    if (j < 0) continue;
    Node& bn = g.nodes[j];
    if (bn.op_type != "BatchNormalization" || bn.inputs.size() != 5 || bn.inputs[0] != y) continue;
    if (bn.outputs.size() > 1 && std::any_of(bn.outputs.begin() + 1, bn.outputs.end(), [](int v) { return v >= 0; }))
      continue;
    if (bn.attrs.Int("training_mode", 0) != 0 || bn.attrs.Int("spatial", 1) != 1) continue;
    const Tensor* w = Init(g, conv.inputs[1]);
    const Tensor* b = conv.inputs.size() > 2 ? Init(g, conv.inputs[2]) : nullptr;
    if (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && !b) continue;
    const Tensor *scale = Init(g, bn.inputs[1]), *shift = Init(g, bn.inputs[2]), *mean = Init(g, bn.inputs[3]),
                 *var = Init(g, bn.inputs[4]);
    if (!IsFloatInit(w) || !IsFloatInit(scale) || !IsFloatInit(shift) || !IsFloatInit(mean) || !IsFloatInit(var))
      continue;
    if (b && !IsFloatInit(b)) continue;
    if (w->shape().empty()) continue;
    const int64_t m = w->shape()[0];
    if (scale->numel() != m || shift->numel() != m || mean->numel() != m || var->numel() != m || (b && b->numel() != m))
      continue;
    if (uses.count[conv.inputs[1]] != 1) continue;  // the weight is shared: leave it alone
    const float eps = bn.attrs.Float("epsilon", 1e-5f);
    Tensor nw = w->Clone();
    Tensor nb = Tensor::Allocate(DataType::kFloat, {m}).value();
    const int64_t per = m ? nw.numel() / m : 0;
    for (int64_t c = 0; c < m; ++c) {
      const double s =
          static_cast<double>(scale->as<float>()[c]) / std::sqrt(static_cast<double>(var->as<float>()[c]) + eps);
      for (int64_t k = 0; k < per; ++k)
        nw.as<float>()[c * per + k] = static_cast<float>(nw.as<float>()[c * per + k] * s);
      const double b0 = b ? b->as<float>()[c] : 0.0;
      nb.as<float>()[c] = static_cast<float>((b0 - mean->as<float>()[c]) * s + shift->as<float>()[c]);
    }
    int wv = g.NewValue(g.values[conv.inputs[1]].name + "_bnfused");
    int bv = g.NewValue(g.values[conv.inputs[1]].name + "_bnfused_bias");
    g.values[wv].dtype = g.values[bv].dtype = DataType::kFloat;
    g.initializers[wv] = std::move(nw);
    g.initializers[bv] = std::move(nb);
    conv.inputs.resize(3);
    conv.inputs[1] = wv;
    conv.inputs[2] = bv;
    conv.outputs[0] = bn.outputs[0];
    bn.op_type.clear();  // marked for removal
    ++stats->fused_nodes;
    uses = Uses(g);
  }
  std::erase_if(g.nodes, [](const Node& n) { return n.op_type.empty(); });
}

// Producer -> Add(constant bias): Conv (per-channel [M,1,..]) and MatMul (per-column [N]).
void FuseBiasAdd(Graph& g, const std::vector<const Device*>& devices, OptimizerStats* stats) {
  const KernelEntry* matmul = PlacedEntry(devices, "MatMul", g.opset);
  Uses uses(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& p = g.nodes[i];
    if (!p.domain.empty() || p.outputs.size() != 1 || p.activation.kind != ActivationKind::kNone) continue;
    bool is_conv = p.op_type == "Conv", is_matmul = p.op_type == "MatMul" && matmul && matmul->fuses_activation;
    if (!is_conv && !is_matmul) continue;
    int y = p.outputs[0];
    if (!uses.SingleInternal(y) || g.values[y].dtype != DataType::kFloat) continue;
    int j = FindConsumer(g, y, i);
    if (j < 0) continue;
    Node& add = g.nodes[j];
    if (add.op_type != "Add" || add.inputs.size() != 2) continue;
    int other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
    if (add.inputs[0] == add.inputs[1]) continue;
    const Tensor* bias = Init(g, other);
    const Tensor* w = Init(g, p.inputs[1]);
    if (!IsFloatInit(bias) || !IsFloatInit(w)) continue;
    // The Add must not change the output's shape: the bias broadcasts into y.
    const Shape& bs = bias->shape();
    if (is_conv) {
      const int64_t m = w->shape().empty() ? -1 : w->shape()[0];
      const size_t rank = w->shape().size();  // rank of y
      if (bias->numel() != m || bs.size() > rank || bs.size() < rank - 1) continue;
      // Shape [M,1,...,1] or [1,M,1,...,1] with the channel at axis 1 of y.
      size_t ch = bs.size() == rank ? 1 : 0;
      bool ok = bs.size() >= 1 && bs[ch] == m;
      for (size_t k = 0; k < bs.size(); ++k)
        if (k != ch && bs[k] != 1) ok = false;
      if (!ok) continue;
      if (p.inputs.size() > 2 && p.inputs[2] >= 0) {
        const Tensor* b0 = Init(g, p.inputs[2]);
        if (!IsFloatInit(b0) || b0->numel() != m || uses.count[p.inputs[2]] != 1) continue;
        Tensor nb = b0->Clone();
        for (int64_t c = 0; c < m; ++c) nb.as<float>()[c] += bias->as<float>()[c];
        g.initializers[p.inputs[2]] = std::move(nb);
      } else {
        int bv = g.NewValue(g.values[y].name + "_bias");
        g.values[bv].dtype = DataType::kFloat;
        g.initializers[bv] = bias->Reshaped({m});
        p.inputs.resize(3);
        p.inputs[2] = bv;
      }
    } else {
      if (w->shape().size() != 2 || p.inputs.size() != 2) continue;
      const int64_t n = w->shape()[1];
      if (bias->numel() != n || bs.empty() || bs.back() != n) continue;
      // Bias rank must not exceed y's, or the Add would add leading dims (a 1-D bias never does).
      const auto& a_info = g.values[p.inputs[0]];
      if (bs.size() > 1 && (!a_info.has_shape || bs.size() > a_info.shape.size())) continue;
      int bv = g.NewValue(g.values[y].name + "_bias");
      g.values[bv].dtype = DataType::kFloat;
      g.initializers[bv] = bias->Reshaped({n});
      p.inputs.push_back(bv);
    }
    p.outputs[0] = add.outputs[0];
    add.op_type.clear();
    ++stats->fused_nodes;
    uses = Uses(g);
  }
  std::erase_if(g.nodes, [](const Node& n) { return n.op_type.empty(); });
}

// Reads an activation node as an epilogue; false when it is not one we fuse (or its parameters are not constant).
bool AsActivation(const Graph& g, const Node& n, Activation* a) {
  if (!n.domain.empty() || n.outputs.size() != 1) return false;
  if (n.op_type == "Relu")
    a->kind = ActivationKind::kRelu;
  else if (n.op_type == "Sigmoid")
    a->kind = ActivationKind::kSigmoid;
  else if (n.op_type == "Tanh")
    a->kind = ActivationKind::kTanh;
  else if (n.op_type == "LeakyRelu") {
    a->kind = ActivationKind::kLeakyRelu;
    a->alpha = n.attrs.Float("alpha", 0.01f);
  } else if (n.op_type == "HardSigmoid") {
    a->kind = ActivationKind::kHardSigmoid;
    a->alpha = n.attrs.Float("alpha", 0.2f);
    a->beta = n.attrs.Float("beta", 0.5f);
  } else if (n.op_type == "Clip") {
    a->kind = ActivationKind::kClip;
    a->alpha = -std::numeric_limits<float>::infinity();
    a->beta = std::numeric_limits<float>::infinity();
    if (g.opset < 11) {
      a->alpha = n.attrs.Float("min", a->alpha);
      a->beta = n.attrs.Float("max", a->beta);
    } else {
      for (size_t k = 1; k < n.inputs.size() && k < 3; ++k) {
        if (n.inputs[k] < 0) continue;
        const Tensor* t = Init(g, n.inputs[k]);
        if (!IsFloatInit(t) || t->numel() != 1) return false;
        (k == 1 ? a->alpha : a->beta) = t->as<float>()[0];
      }
    }
  } else {
    return false;
  }
  return true;
}

void FuseActivations(Graph& g, const std::vector<const Device*>& devices, OptimizerStats* stats) {
  Uses uses(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& p = g.nodes[i];
    if (!p.domain.empty() || p.outputs.size() != 1 || p.activation.kind != ActivationKind::kNone) continue;
    if (p.op_type != "Conv" && p.op_type != "Gemm" && p.op_type != "MatMul") continue;
    const KernelEntry* e = PlacedEntry(devices, p.op_type, g.opset);
    if (!e || !e->fuses_activation) continue;
    int y = p.outputs[0];
    if (!uses.SingleInternal(y) || g.values[y].dtype != DataType::kFloat) continue;
    int j = FindConsumer(g, y, i);
    if (j < 0 || g.nodes[j].inputs.empty() || g.nodes[j].inputs[0] != y) continue;
    Activation a;
    if (!AsActivation(g, g.nodes[j], &a)) continue;
    p.activation = a;
    p.outputs[0] = g.nodes[j].outputs[0];
    g.nodes[j].op_type.clear();
    ++stats->fused_nodes;
    uses = Uses(g);
  }
  std::erase_if(g.nodes, [](const Node& n) { return n.op_type.empty(); });
}

void DropUnusedInitializers(Graph& g) {
  std::vector<bool> used(g.values.size(), false);
  for (const Node& n : g.nodes)
    for (int v : n.inputs)
      if (v >= 0) used[v] = true;
  for (int v : g.outputs) used[v] = true;
  std::erase_if(g.initializers, [&](const auto& kv) { return !used[kv.first]; });
}

}  // namespace

KernelDef MakeKernelDef(const Graph& graph, const Node& node) {
  KernelDef def;
  def.name = node.name;
  def.op_type = node.op_type;
  def.domain = node.domain;
  auto it = graph.opsets.find(node.domain);
  def.opset = it == graph.opsets.end() ? 0 : it->second;
  def.attrs = node.attrs;
  for (int v : node.inputs) {
    def.input_present.push_back(v >= 0);
    def.input_types.push_back(v >= 0 ? graph.values[v].dtype : DataType::kUndefined);
    def.input_constant.push_back(v >= 0 && graph.initializers.count(v) != 0);
  }
  def.num_outputs = node.outputs.size();
  def.activation = node.activation;
  return def;
}

Result<std::vector<Tensor>> ComputeOnHost(Kernel& kernel, KernelContext& ctx) {
  std::vector<Tensor> outs;
  for (auto& o : ctx.outputs_) {
    FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(o.dtype, o.shape));
    o.data = t.data();
    outs.push_back(std::move(t));
  }
  // Folding runs on the planning thread; keep the thread count Prepare sized the scratch for.
  std::shared_ptr<void> scratch = AllocateAligned(ctx.scratch_bytes_);
  ctx.scratch_ = scratch.get();
  FERRY_RETURN_IF_ERROR(kernel.Compute(ctx));
  return outs;
}

size_t SaturatingByteSize(const Shape& shape, DataType dtype) {
  size_t bytes = DataTypeSize(dtype);
  for (int64_t d : shape) {
    if (d <= 0) return 0;
    if (static_cast<uint64_t>(d) > SIZE_MAX / std::max<size_t>(bytes, 1)) return SIZE_MAX;
    bytes *= static_cast<size_t>(d);
  }
  return bytes;
}

size_t OutputBytes(const KernelContext& ctx) {
  size_t bytes = 0;
  for (const TensorView& o : ctx.outputs_) {
    const size_t b = SaturatingByteSize(o.shape, o.dtype);
    bytes = b > SIZE_MAX - bytes ? SIZE_MAX : bytes + b;
  }
  return bytes;
}

Status OptimizeGraph(Graph& graph, const std::vector<const Device*>& devices, OptimizerStats* stats,
                     const OptimizerOptions& options) {
  OptimizerStats local;
  if (!stats) stats = &local;
  FERRY_RETURN_IF_ERROR(FoldConstants(graph, options, stats));
  FuseConvBatchNorm(graph, stats);
  FuseBiasAdd(graph, devices, stats);
  FuseActivations(graph, devices, stats);
  DropUnusedInitializers(graph);
  return Status::Ok();
}

}  // namespace ferry
