// Instance: one execution slot of a model version (Triton's model instance). Each has its own memory plan
// and runs one batch at a time on the scheduler's thread for it.
//
// Kinds: `cpu` runs a Session on the CPU backend. The kind is data (InstanceGroup in the model's config), and
// instances are made through an InstanceFactory, so a GPU kind (a Session on the CUDA backend bound to one
// device) plugs in without the scheduler changing. Tests use fake instances.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "graph/session.h"

namespace ferry {

class Instance {
 public:
  virtual ~Instance() = default;
  // Runs one (possibly batched) request; `inputs` in the model's input order, outputs in its output order.
  // Called on one thread at a time. `threads` is the instance's current share of the CPU thread budget.
  virtual Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs, int threads) = 0;
  // Intermediate memory planned at creation (for the warm-up batch), in bytes.
  virtual size_t planned_bytes() const { return 0; }
};

struct InstanceSpec {
  std::string kind = "cpu";
  int index = 0;             // 0.. within the version
  int max_threads = 1;       // threads the instance's plans are sized for
  int64_t warmup_batch = 0;  // > 0: plan this batch size at creation, so memory is planned up front
};

using InstanceFactory = std::function<Result<std::unique_ptr<Instance>>(const InstanceSpec&)>;

// The CPU kind: a Session over `model`.
InstanceFactory CpuInstanceFactory(std::shared_ptr<const Model> model);

}  // namespace ferry
