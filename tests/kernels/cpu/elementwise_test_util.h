// Runs one CPU kernel from the kernel table on host tensors, the way the graph layer does: factory, Prepare
// (with inputs marked known or not), output allocation, Compute.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/tensor.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kernel.h"

namespace ferry::cpu::testing {

struct KernelRun {
  Status status;                // first failure of factory, Prepare or Compute
  std::vector<Tensor> outputs;  // valid when status.ok()
};

// inputs: an undefined Tensor means an absent optional input. When `known` is false, Prepare sees no input
// data (as for graph inputs) and must not need it.
inline KernelRun RunKernel(const std::string& op, int opset, const std::vector<Tensor>& inputs, Attributes attrs = {},
                           size_t num_outputs = 1, bool known = false, int threads = 1) {
  KernelRun run;
  KernelDef def;
  def.op_type = op;
  def.opset = opset;
  def.attrs = std::move(attrs);
  def.num_outputs = num_outputs;
  for (const Tensor& t : inputs) {
    def.input_types.push_back(t.defined() ? t.dtype() : DataType::kUndefined);
    def.input_present.push_back(t.defined());
  }
  const KernelEntry* entry = CpuKernelTable().Find(op, opset);
  if (entry == nullptr) {
    run.status = Unimplemented("no kernel for {} opset {}", op, opset);
    return run;
  }
  auto kernel = entry->create(def);
  if (!kernel.ok()) {
    run.status = kernel.status();
    return run;
  }
  KernelContext ctx;
  for (const Tensor& t : inputs) {
    TensorView v = t.view();
    if (!known) v.data = nullptr;
    ctx.inputs_.push_back(v);
    ctx.present_.push_back(t.defined());
  }
  ctx.outputs_.resize(num_outputs);
  ctx.num_threads_ = threads;
  run.status = (*kernel)->Prepare(ctx);
  if (!run.status.ok()) return run;
  for (size_t i = 0; i < inputs.size(); ++i) ctx.inputs_[i].data = inputs[i].data();
  std::shared_ptr<void> scratch = AllocateAligned(ctx.scratch_bytes_);
  ctx.scratch_ = scratch.get();
  for (size_t i = 0; i < num_outputs; ++i) {
    auto t = Tensor::Allocate(ctx.outputs_[i].dtype, ctx.outputs_[i].shape);
    if (!t.ok()) {
      run.status = t.status();
      return run;
    }
    ctx.outputs_[i].data = t->data();
    run.outputs.push_back(*t);
  }
  run.status = (*kernel)->Compute(ctx);
  return run;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  return std::vector<T>(t.as<T>(), t.as<T>() + t.numel());
}

}  // namespace ferry::cpu::testing
