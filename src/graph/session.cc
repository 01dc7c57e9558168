#include "graph/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace ferry {

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : model_(std::move(model)), options_(options), active_threads_(std::max(1, options.num_threads)) {}

void Session::SetThreads(int threads) { active_threads_ = std::clamp(threads, 1, std::max(1, options_.num_threads)); }

Result<Plan*> Session::FindOrBuildPlan(const std::vector<TensorView>& inputs) {
  FERRY_RETURN_IF_ERROR(model_->CheckInputs(inputs));
  std::string key = model_->PlanKey(inputs);
  auto it = plans_.find(key);
  if (it != plans_.end()) return it->second.get();
  FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Plan> plan, model_->BuildPlan(inputs, options_.num_threads));
  if (plans_.size() >= kMaxPlans) plans_.clear();
  Plan* p = plan.get();
  plans_[key] = std::move(plan);
  return p;
}

Result<const Plan*> Session::PlanFor(const std::vector<TensorView>& inputs) {
  FERRY_ASSIGN_OR_RETURN(Plan * plan, FindOrBuildPlan(inputs));
  return static_cast<const Plan*>(plan);
}

Status Session::Reserve(const std::vector<TensorView>& inputs) {
  FERRY_ASSIGN_OR_RETURN(Plan * plan, FindOrBuildPlan(inputs));
  const size_t need = plan->arena_bytes + plan->scratch_bytes + 64;
  if (arena_.bytes < need) {
    FERRY_ASSIGN_OR_RETURN(arena_, model_->backend().Allocate(need));
  }
  return Status::Ok();
}

Result<std::vector<Tensor>> Session::Run(const std::vector<Tensor>& inputs) {
  std::vector<TensorView> views;
  views.reserve(inputs.size());
  for (const Tensor& t : inputs) views.push_back(t.view());
  FERRY_ASSIGN_OR_RETURN(Plan * found, FindOrBuildPlan(views));
  Plan& plan = *found;  // owned by this session; its kernels keep per-plan state
  const Backend& backend = model_->backend();
  const size_t need = plan.arena_bytes + plan.scratch_bytes + 64;
  if (arena_.bytes < need) {
    FERRY_ASSIGN_OR_RETURN(arena_, backend.Allocate(need));
  }
  char* base = static_cast<char*>(arena_.data());
  void* scratch = base + (plan.arena_bytes + 63) / 64 * 64;

  const Graph& g = model_->graph();
  std::vector<Tensor> outputs(g.outputs.size());
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    const ValueSlot& s = plan.slots[g.outputs[i]];
    if (s.kind == ValueSlot::Kind::kOutput && s.index == static_cast<int>(i)) {
      FERRY_ASSIGN_OR_RETURN(outputs[i], Tensor::Allocate(s.dtype, s.shape));
    }
  }
  auto data_of = [&](int v) -> void* {
    const ValueSlot& s = plan.slots[v];
    switch (s.kind) {
      case ValueSlot::Kind::kInput:
        return inputs[s.index].data();
      case ValueSlot::Kind::kConstant:
        return s.constant.data();
      case ValueSlot::Kind::kArena:
        return base + s.offset;
      case ValueSlot::Kind::kOutput:
        return outputs[s.index].data();
      case ValueSlot::Kind::kUnused:
        return nullptr;
    }
    return nullptr;
  };
  backend.SetThreadsForCurrentWorker(active_threads_);
  for (PlanStep& step : plan.steps) {
    KernelContext& ctx = step.ctx;
    for (size_t k = 0; k < step.inputs.size(); ++k)
      if (step.inputs[k] >= 0) ctx.inputs_[k].data = data_of(step.inputs[k]);
    for (size_t k = 0; k < step.outputs.size(); ++k) ctx.outputs_[k].data = data_of(step.outputs[k]);
    ctx.scratch_ = scratch;
    ctx.num_threads_ = active_threads_;
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
  for (size_t i = 0; i < g.outputs.size(); ++i) {
    if (outputs[i].defined()) continue;
    const ValueSlot& s = plan.slots[g.outputs[i]];
    FERRY_ASSIGN_OR_RETURN(outputs[i], Tensor::Allocate(s.dtype, s.shape));
    const void* src = data_of(g.outputs[i]);
    if (outputs[i].nbytes() && src) std::memcpy(outputs[i].data(), src, outputs[i].nbytes());
  }
  return outputs;
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
