#include "graph/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "backends/device_registry.h"

namespace ferry {

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : model_(std::move(model)), options_(options), active_threads_(std::max(1, options.num_threads)) {}

void Session::SetThreads(int threads) { active_threads_ = std::clamp(threads, 1, std::max(1, options_.num_threads)); }

size_t Session::arena_bytes() const {
  size_t bytes = 0;
  for (const auto& [location, arena] : arenas_) bytes += arena.size();
  return bytes;
}

size_t Session::arena_bytes(Location location) const {
  auto it = arenas_.find(location);
  return it == arenas_.end() ? 0 : it->second.size();
}

Result<Plan*> Session::FindOrBuildPlan(const std::vector<TensorView>& inputs) {
  FERRY_RETURN_IF_ERROR(model_->CheckInputs(inputs));
  std::string key = model_->PlanKey(inputs);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Plan> plan,
                         model_->BuildPlan(inputs, PlanOptions{options_.num_threads, options_.devices}));
  if (plans_.size() >= kMaxPlans) plans_.clear();
  Plan* p = plan.get();
  plans_[key] = std::move(plan);
  return p;
}

Result<const Plan*> Session::PlanFor(const std::vector<TensorView>& inputs) {
  FERRY_ASSIGN_OR_RETURN(Plan * plan, FindOrBuildPlan(inputs));
  return static_cast<const Plan*>(plan);
}

Status Session::Bind(const Plan& plan) {
  for (const auto& [location, need] : plan.arenas) {
    Buffer& arena = arenas_[location];
    if (arena.size() >= need.bytes()) continue;
    const Device* device = DeviceRegistry::Global().Get(location);
    arena = Buffer();  // the old one goes first: the new may need its memory
    FERRY_ASSIGN_OR_RETURN(arena, device->buffer_type().Allocate(need.bytes(), BufferUsage::kCompute));
  }
  for (const PlanStep& step : plan.steps) {
    if (step.location == kHostLocation || streams_.count(step.location)) continue;
    FERRY_ASSIGN_OR_RETURN(streams_[step.location], DeviceRegistry::Global().Get(step.location)->CreateStream());
  }
  return Status::Ok();
}

Status Session::Reserve(const std::vector<TensorView>& inputs) {
  FERRY_ASSIGN_OR_RETURN(Plan * plan, FindOrBuildPlan(inputs));
  return Bind(*plan);
}

Result<std::vector<Tensor>> Session::Run(const std::vector<Tensor>& inputs) {
  std::vector<TensorView> views;
  views.reserve(inputs.size());
  for (const Tensor& t : inputs) views.push_back(t.view());
  FERRY_ASSIGN_OR_RETURN(Plan * found, FindOrBuildPlan(views));
  Plan& plan = *found;  // owned by this session; its kernels keep per-plan state
  FERRY_RETURN_IF_ERROR(Bind(plan));

  const Graph& g = model_->graph();
  std::vector<Tensor> outputs(g.outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const ValueSlot& s = plan.slots[plan.output_values[i]];
    if (s.kind == ValueSlot::Kind::kOutput && s.index == static_cast<int>(i)) {
      FERRY_ASSIGN_OR_RETURN(outputs[i], Tensor::Allocate(s.dtype, s.shape));
    }
  }
  Status status = RunSteps(plan, inputs, outputs);
  // Whatever happened, every stream finishes before its buffers may be reused; its errors come out here.
  for (auto& [location, stream] : streams_) {
    Status s = stream->Synchronize();
    if (status.ok()) status = s;
  }
  FERRY_RETURN_IF_ERROR(status);

  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (outputs[i].defined()) continue;
    // An input or a constant (host memory) that is also an output.
    const ValueSlot& s = plan.slots[plan.output_values[i]];
    FERRY_ASSIGN_OR_RETURN(outputs[i], Tensor::Allocate(s.dtype, s.shape));
    const void* src = s.kind == ValueSlot::Kind::kInput      ? inputs[s.index].data()
                      : s.kind == ValueSlot::Kind::kConstant ? s.constant.data()
                      : s.kind == ValueSlot::Kind::kOutput   ? outputs[s.index].data()
                                                             : nullptr;
    if (outputs[i].nbytes() && src) std::memcpy(outputs[i].data(), src, outputs[i].nbytes());
  }
  return outputs;
}

Status Session::RunSteps(Plan& plan, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
  const Graph& g = model_->graph();
  auto base = [&](Location location) { return static_cast<char*>(arenas_.at(location).data()); };
  auto data_of = [&](int v) -> void* {
    const ValueSlot& s = plan.slots[v];
    switch (s.kind) {
      case ValueSlot::Kind::kInput:
        return inputs[s.index].data();
      case ValueSlot::Kind::kConstant:
        return s.location == kHostLocation ? s.constant.data() : const_cast<void*>(s.device_data);
      case ValueSlot::Kind::kArena:
        return base(s.location) + s.offset;
      case ValueSlot::Kind::kOutput:
        return outputs[s.index].data();
      case ValueSlot::Kind::kUnused:
        return nullptr;
    }
    return nullptr;
  };
  CpuDevice().SetThreadsForCurrentWorker(active_threads_);
  for (size_t i = 0; i < plan.steps.size(); ++i) {
    PlanStep& step = plan.steps[i];
    Stream* stream = step.location == kHostLocation ? nullptr : streams_.at(step.location).get();
    if (step.kind == PlanStep::Kind::kCopy) {
      const ValueSlot& src = plan.slots[step.inputs[0]];
      const size_t bytes = static_cast<size_t>(NumElements(src.shape)) * DataTypeSize(src.dtype);
      void* dst = data_of(step.outputs[0]);
      const void* from = data_of(step.inputs[0]);
      if (src.location == kHostLocation) {
        FERRY_RETURN_IF_ERROR(stream->CopyToDevice(dst, from, bytes));
      } else {
        FERRY_RETURN_IF_ERROR(stream->CopyToHost(dst, from, bytes));
        if (step.wait) {
          FERRY_RETURN_IF_ERROR(stream->Record(*plan.events[i]));
          FERRY_RETURN_IF_ERROR(plan.events[i]->Synchronize());
        }
      }
      continue;
    }
    KernelContext& ctx = step.ctx;
    for (size_t k = 0; k < step.inputs.size(); ++k)
      if (step.inputs[k] >= 0) ctx.inputs_[k].data = data_of(step.inputs[k]);
    for (size_t k = 0; k < step.outputs.size(); ++k) ctx.outputs_[k].data = data_of(step.outputs[k]);
    const ArenaPlan& arena = plan.arenas.at(step.location);
    ctx.scratch_ = base(step.location) + (arena.arena_bytes + 63) / 64 * 64;
    ctx.num_threads_ = active_threads_;
    ctx.stream_ = stream ? stream->native() : nullptr;
    const auto t0 = options_.profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = step.kernel->Compute(ctx);
    if (!s.ok()) return Status(s.code(), g.Describe(g.nodes[step.node]) + ": " + s.message());
    if (options_.profile) {
      const Node& node = g.nodes[step.node];
      OpProfile& p = profile_[node.activation.kind == ActivationKind::kNone ? node.op_type : node.op_type + "+act"];
      p.total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++p.calls;
    }
  }
  return Status::Ok();
}

Result<std::map<std::string, Tensor>> Session::Run(const std::map<std::string, Tensor>& inputs) {
  const auto& sig = model_->inputs();
  std::vector<Tensor> ordered;
  for (const auto& s : sig) {
    auto it = inputs.find(s.name);
    if (it == inputs.end()) return InvalidArgument("missing input \"{}\"", s.name);
    ordered.push_back(it->second);
  }
  for (const auto& [name, t] : inputs) {
    bool known = false;
    for (const auto& s : sig) known = known || s.name == name;
    if (!known) return InvalidArgument("the model has no input \"{}\"", name);
  }
  FERRY_ASSIGN_OR_RETURN(std::vector<Tensor> outs, Run(ordered));
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs.size(); ++i) named[model_->outputs()[i].name] = std::move(outs[i]);
  return named;
}

}  // namespace ferry
