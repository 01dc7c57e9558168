// Instance: one execution slot of a model version (Triton's model instance). Each has its own memory plan and
// device, and runs one batch at a time on the scheduler's thread for it.
//
// The kind is data (InstanceGroup in the model's config: `cpu`, or `gpu` for the server's accelerator devices);
// the scheduler resolves it to a Device and instances are made through an InstanceFactory, so a new backend
// plugs in without the scheduler changing. The session instance runs a Session whose nodes prefer the
// instance's device (the CPU as fallback). Tests use fake instances.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/device.h"
#include "common/status.h"
#include "common/tensor.h"
#include "graph/session.h"

namespace ferry {

// The requests of one batch, each with its inputs in the model's input order. Several requests are combined along
// dim 0 by the instance, which may move from or clear their inputs.
struct Batch {
  std::vector<std::vector<Tensor>*> requests;
  int64_t rows = 0;  // rows along dim 0 of all requests together
};

class Instance {
 public:
  virtual ~Instance() = default;
  // Runs one batch; outputs in the model's output order, with all the batch's rows (the scheduler hands each
  // request its rows without a copy). Called on one thread at a time. `threads` is the instance's current share of
  // the CPU thread budget.
  virtual Result<std::vector<Tensor>> Run(Batch& batch, int threads) = 0;
  // Memory planned at creation (for the warm-up batch), in bytes, by device id ("cpu", "cuda:0").
  virtual std::map<std::string, size_t> planned_bytes() const { return {}; }
};

struct InstanceSpec {
  std::string kind = "cpu";
  const Device* device = nullptr;  // where its nodes run first (nullptr: the CPU); set by the scheduler
  int index = 0;                   // 0.. within the version
  int max_threads = 1;             // threads the instance's plans are sized for
  int64_t warmup_batch = 0;        // > 0: plan this batch size at creation, so memory is planned up front
};

using InstanceFactory = std::function<Result<std::unique_ptr<Instance>>(const InstanceSpec&)>;

// Instances that run a Session over `model` on the spec's device. A batch of several requests is gathered into
// the instance's staging memory (the device's host buffer type: pinned memory for a GPU), allocated for the
// warm-up batch and kept.
InstanceFactory SessionInstanceFactory(std::shared_ptr<const Model> model);

// The batch's inputs combined along dim 0 into new tensors (one request: its own inputs, moved). For simple
// instances (tests).
Result<std::vector<Tensor>> ConcatBatch(Batch& batch);

}  // namespace ferry
