// Model::BuildPlan: placement, copies, folding while planning, and one memory plan per location.
//
// Nodes are visited in topological order. A node whose inputs are all known (or that reads only shapes) is
// computed now on the CPU, within the plan's folding budget. Any other becomes a step on the first device of
// the preference list whose table runs it; each input is then made available where the step reads it (host
// inputs on the host, others on the step's device): a constant through the device's weight store (or a
// plan-owned upload for constants made while planning), a value that lives elsewhere through a copy step
// placed just before its first reader there (memoized: one copy per value and location). Crossing between two
// devices goes through host memory.
//
// Asynchronous devices: a copy to the host is waited for at once (its reader is the next host step) except for
// graph outputs, which the run waits for at its end; host memory that a device reads asynchronously (a copy's
// source, a device kernel's host input) stays allocated until the run ends, so no later host step reuses it
// while the device may still read it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "backends/device_registry.h"
#include "graph/memory_planner.h"
#include "graph/model.h"

namespace ferry {

size_t Plan::weight_bytes(Location location) const {
  size_t bytes = 0;
  for (const ValueSlot& s : slots)
    if (s.kind == ValueSlot::Kind::kConstant && s.location == location) bytes += s.constant.nbytes();
  return bytes;
}

namespace {

class Builder {
 public:
  Builder(const Model& model, Plan& plan, bool upload)
      : model_(model), g_(model.graph()), plan_(plan), upload_(upload) {
    const size_t n = g_.values.size();
    plan_.slots.resize(n);
    first_.assign(n, -1);
    last_.assign(n, -1);
    root_.assign(n, -1);
    async_read_.assign(n, false);
  }

  int owner(int v) const { return root_[v] >= 0 ? root_[v] : v; }
  ValueSlot& slot(int v) { return plan_.slots[v]; }

  // A value the plan adds, like `like` but at `location`.
  int NewValue(int like, Location location, ValueSlot::Kind kind) {
    ValueSlot s;
    s.kind = kind;
    s.location = location;
    s.dtype = plan_.slots[like].dtype;
    s.shape = plan_.slots[like].shape;
    plan_.slots.push_back(std::move(s));
    first_.push_back(-1);
    last_.push_back(-1);
    root_.push_back(-1);
    async_read_.push_back(false);
    return static_cast<int>(plan_.slots.size()) - 1;
  }

  // Value `v` where a step at `location` can read it.
  Result<int> At(int v, Location location) {
    const ValueSlot& s = slot(v);
    if (s.location == location) return v;
    auto memo = at_.find({v, location});
    if (memo != at_.end()) return memo->second;
    int id = -1;
    if (s.kind == ValueSlot::Kind::kConstant) {
      // Constants live on the host; a device reads its own copy.
      if (location == kHostLocation) return v;
      const Device* device = DeviceRegistry::Global().Get(location);
      const void* data = nullptr;
      if (!upload_) {
        // Counted by Plan::weight_bytes, not uploaded.
      } else if (g_.initializers.count(v)) {
        std::shared_ptr<WeightStore>& store = plan_.weights[location];
        if (!store) store = model_.WeightsOn(*device);
        FERRY_ASSIGN_OR_RETURN(data, store->Get(v, s.constant));
      } else {
        FERRY_ASSIGN_OR_RETURN(Buffer b,
                               UploadToDevice(*device, s.constant.data(), s.constant.nbytes(), BufferUsage::kWeights));
        data = b.data();
        plan_.plan_constants.push_back(std::move(b));
      }
      id = NewValue(v, location, ValueSlot::Kind::kConstant);
      slot(id).constant = slot(v).constant;
      slot(id).device_data = data;
    } else if (s.location != kHostLocation && location != kHostLocation) {
      FERRY_ASSIGN_OR_RETURN(int host, At(v, kHostLocation));
      FERRY_ASSIGN_OR_RETURN(id, At(host, location));
    } else {
      id = NewValue(v, location, ValueSlot::Kind::kArena);
      AddCopy(v, id, /*wait=*/location == kHostLocation);
    }
    at_[{v, location}] = id;
    return id;
  }

  void AddCopy(int src, int dst, bool wait) {
    const int index = static_cast<int>(plan_.steps.size());
    PlanStep step;
    step.kind = PlanStep::Kind::kCopy;
    step.location = slot(src).location == kHostLocation ? slot(dst).location : slot(src).location;
    step.inputs = {src};
    step.outputs = {dst};
    step.wait = wait;
    Read(src, index, step.location);
    Define(dst, index);
    plan_.steps.push_back(std::move(step));
    ++plan_.copies;
  }

  // Step `index`, running on `by`, reads plan value v.
  void Read(int v, int index, Location by) {
    if (slot(v).kind != ValueSlot::Kind::kArena) return;
    last_[owner(v)] = index;
    if (by != kHostLocation && slot(v).location == kHostLocation) async_read_[owner(v)] = true;
  }
  void Define(int v, int index) { first_[v] = last_[v] = index; }
  void Alias(int v, int of) { root_[v] = owner(of); }

  // One memory plan per location; host memory read asynchronously lives to the end.
  void PlanArenas() {
    const int end = static_cast<int>(plan_.steps.size());
    plan_.arenas[kHostLocation];
    for (const ValueSlot& s : plan_.slots)
      if (s.kind == ValueSlot::Kind::kArena) plan_.arenas[s.location];
    for (auto& [location, arena] : plan_.arenas) {
      std::vector<BufferRequest> requests;
      std::vector<int> ids;
      for (size_t v = 0; v < plan_.slots.size(); ++v) {
        const ValueSlot& s = plan_.slots[v];
        if (s.kind != ValueSlot::Kind::kArena || s.location != location || root_[v] >= 0) continue;
        const int last = async_read_[v] ? end : last_[v];
        requests.push_back(
            BufferRequest{static_cast<size_t>(NumElements(s.shape)) * DataTypeSize(s.dtype), first_[v], last});
        ids.push_back(static_cast<int>(v));
      }
      MemoryPlan mem = PlanMemory(requests);
      for (size_t i = 0; i < ids.size(); ++i) plan_.slots[ids[i]].offset = mem.offsets[i];
      arena.arena_bytes = mem.arena_bytes;
      arena.intermediate_bytes = mem.total_bytes;
    }
    for (size_t v = 0; v < plan_.slots.size(); ++v)
      if (root_[v] >= 0) plan_.slots[v].offset = plan_.slots[root_[v]].offset;
    for (const PlanStep& step : plan_.steps) {
      if (step.kind != PlanStep::Kind::kKernel) continue;
      ArenaPlan& arena = plan_.arenas[step.location];
      arena.scratch_bytes = std::max(arena.scratch_bytes, step.ctx.scratch_bytes_);
    }
  }

 private:
  const Model& model_;
  const Graph& g_;
  Plan& plan_;
  const bool upload_;
  std::vector<int> first_, last_, root_;  // by plan value: first and last step; an alias's buffer owner
  std::vector<bool> async_read_;          // host buffers a device reads
  std::map<std::pair<int, Location>, int> at_;
};

// DerivedConstants for one step's Prepare: what the kernel derives from an initializer is kept in the model's
// store for the step's device; from any other constant (made while planning), it belongs to this plan alone.
class StepDerived final : public DerivedConstants {
 public:
  StepDerived(const Graph& g, const Node& node, WeightStore& store) : g_(g), node_(node), store_(store) {}
  std::shared_ptr<const void> GetOrMake(size_t input, const std::string& layout,
                                        const std::function<std::shared_ptr<const void>()>& make) override {
    const int v = input < node_.inputs.size() ? node_.inputs[input] : -1;
    if (v < 0 || !g_.initializers.count(v)) return make();
    return store_.Derived(v, layout, make);
  }

 private:
  const Graph& g_;
  const Node& node_;
  WeightStore& store_;
};

Status CheckPrepared(const Graph& g, const Node& node, const KernelContext& ctx) {
  for (size_t k = 0; k < ctx.outputs_.size(); ++k) {
    const TensorView& o = ctx.outputs_[k];
    if (DataTypeSize(o.dtype) == 0) return Internal("{}: output {} has no type after Prepare", g.Describe(node), k);
    for (int64_t d : o.shape)
      if (d < 0) return Internal("{}: output {} has negative dimension", g.Describe(node), k);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Plan>> Model::BuildPlan(const std::vector<TensorView>& inputs,
                                               const PlanOptions& options) const {
  const Graph& g = graph_;
  const Device& cpu = CpuDevice();
  std::vector<const Device*> devices = options.devices.empty() ? devices_ : options.devices;
  for (const Device* d : devices) {
    if (d == nullptr || d->location() < 0 || DeviceRegistry::Global().Get(d->location()) != d)
      return InvalidArgument("device {} is not registered", d ? d->id() : std::string_view("(null)"));
  }
  if (std::find(devices.begin(), devices.end(), &cpu) == devices.end()) devices.push_back(&cpu);

  auto plan = std::make_unique<Plan>();
  plan->key = PlanKey(inputs);
  Builder b(*this, *plan, options.upload);
  for (const auto& [v, t] : g.initializers) {
    ValueSlot& s = b.slot(v);
    s.kind = ValueSlot::Kind::kConstant;
    s.constant = t;
    s.dtype = t.dtype();
    s.shape = t.shape();
  }
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    ValueSlot& s = b.slot(g.inputs[i]);
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
  std::vector<bool> is_output(g.values.size(), false);
  for (int v : g.outputs) is_output[v] = true;
  FoldBudget fold_budget(plan_fold_bytes_, max_folded_bytes_);  // folded constants are not planned memory
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    const KernelDef& def = defs_[n];
    FERRY_ASSIGN_OR_RETURN(const KernelEntry* cpu_entry, cpu.FindKernel(def));
    const KernelPlacement& placement = cpu_entry->placement;
    // The context as Prepare sees it: shapes and types, and the values known now (host memory).
    KernelContext proto;
    proto.num_threads_ = options.num_threads;
    bool all_known = true;
    for (int v : node.inputs) {
      proto.present_.push_back(v >= 0);
      if (v < 0) {
        proto.inputs_.emplace_back();
        continue;
      }
      const ValueSlot& s = b.slot(v);
      if (s.kind == ValueSlot::Kind::kUnused)
        return Internal("{} reads \"{}\" before it is computed", g.Describe(node), g.values[v].name);
      const bool known = s.kind == ValueSlot::Kind::kConstant;
      all_known = all_known && known;
      proto.inputs_.push_back(TensorView{s.dtype, s.shape, known ? s.constant.data() : nullptr});
    }
    proto.outputs_.resize(node.outputs.size());

    const bool deterministic = node.op_type.rfind("Random", 0) != 0;
    if ((all_known || placement.shape_only) && deterministic) {
      // Computable now, on the CPU: fold it into constants of this plan if the budget allows.
      FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, cpu.CreateKernel(def));
      KernelContext ctx = proto;
      Status st = kernel->Prepare(ctx);
      if (!st.ok()) return Status(st.code(), g.Describe(node) + ": " + st.message());
      FERRY_RETURN_IF_ERROR(CheckPrepared(g, node, ctx));
      if (fold_budget.Take(OutputBytes(ctx))) {
        auto outs = ComputeOnHost(*kernel, ctx);
        if (!outs.ok()) return Status(outs.status().code(), g.Describe(node) + ": " + outs.status().message());
        for (size_t k = 0; k < node.outputs.size(); ++k) {
          ValueSlot& s = b.slot(node.outputs[k]);
          s.kind = ValueSlot::Kind::kConstant;
          s.constant = std::move((*outs)[k]);
          s.dtype = s.constant.dtype();
          s.shape = s.constant.shape();
        }
        ++plan->folded_nodes;
        continue;
      }
    }

    // Placement: the first device that runs it; the CPU, last, runs everything.
    const Device* device = nullptr;
    std::unique_ptr<Kernel> kernel;
    Status refused;
    for (const Device* d : devices) {
      auto k = d->CreateKernel(def);
      if (k.ok()) {
        device = d;
        kernel = std::move(*k);
        break;
      }
      refused = k.status();
    }
    if (!kernel) return Status(refused.code(), g.Describe(node) + ": " + refused.message());
    const Location at = device->location();
    KernelContext ctx = std::move(proto);
    std::shared_ptr<WeightStore> store = WeightsOn(*device);
    StepDerived derived(g, node, *store);
    if (options.upload) ctx.derived_ = &derived;
    Status st = kernel->Prepare(ctx);
    ctx.derived_ = nullptr;
    if (!st.ok()) return Status(st.code(), g.Describe(node) + ": " + st.message());
    FERRY_RETURN_IF_ERROR(CheckPrepared(g, node, ctx));

    PlanStep step;
    step.kind = PlanStep::Kind::kKernel;
    step.location = at;
    step.node = static_cast<int>(n);
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      if (node.inputs[k] < 0) {
        step.inputs.push_back(-1);
        continue;
      }
      const Location need = placement.is_host_input(k) ? kHostLocation : at;
      FERRY_ASSIGN_OR_RETURN(int id, b.At(node.inputs[k], need));  // may add copy steps before this one
      step.inputs.push_back(id);
      ctx.inputs_[k].location = need;
    }
    const int index = static_cast<int>(plan->steps.size());
    for (int id : step.inputs)
      if (id >= 0) b.Read(id, index, at);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const int v = node.outputs[k];
      ValueSlot& s = b.slot(v);
      s.kind = ValueSlot::Kind::kArena;
      s.location = at;
      s.dtype = ctx.outputs_[k].dtype;
      s.shape = ctx.outputs_[k].shape;
      ctx.outputs_[k].location = at;
      b.Define(v, index);
      const int in = step.inputs.empty() ? -1 : step.inputs[0];
      if (k == 0 && placement.output_aliases_input && !is_output[v] && in >= 0 && !is_output[node.inputs[0]]) {
        const ValueSlot& src = b.slot(in);
        if (src.kind == ValueSlot::Kind::kArena && src.location == at && src.dtype == s.dtype &&
            NumElements(src.shape) == NumElements(s.shape))
          b.Alias(v, in);
      }
    }
    step.kernel = std::move(kernel);
    step.ctx = std::move(ctx);
    step.outputs = node.outputs;
    plan->steps.push_back(std::move(step));
  }

  // Graph outputs computed at run time are written straight into the caller's host tensors: by their kernel on
  // the host, by a copy from a device.
  plan->output_values.resize(g.outputs.size());
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const int v = g.outputs[i];
    ValueSlot& s = b.slot(v);
    plan->output_values[i] = v;
    if (s.kind != ValueSlot::Kind::kArena) continue;
    plan->output_bytes += static_cast<size_t>(NumElements(s.shape)) * DataTypeSize(s.dtype);
    if (s.location == kHostLocation) {
      s.kind = ValueSlot::Kind::kOutput;
      s.index = static_cast<int>(i);
      continue;
    }
    const int out = b.NewValue(v, kHostLocation, ValueSlot::Kind::kOutput);
    b.slot(out).index = static_cast<int>(i);
    b.AddCopy(v, out, /*wait=*/false);
    plan->output_values[i] = out;
  }
  b.PlanArenas();
  plan->events.resize(plan->steps.size());
  for (size_t i = 0; i < plan->steps.size(); ++i) {
    const PlanStep& step = plan->steps[i];
    if (step.kind != PlanStep::Kind::kCopy || !step.wait) continue;
    FERRY_ASSIGN_OR_RETURN(plan->events[i], DeviceRegistry::Global().Get(step.location)->CreateEvent());
  }
  return plan;
}

}  // namespace ferry
