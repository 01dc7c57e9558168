// Session: runs a Model for one worker.
//
// A Session owns the worker's plans (one per input signature, built on first use and kept, up to
// kMaxPlans), one intermediate-memory arena per location its plans use, one stream per device, and its thread
// setting. It is not thread-safe: one worker thread uses it at a time. The Model must outlive nothing here: the
// session holds a shared_ptr to it.
//
// A run issues its steps in order: host kernels run at once on the calling thread; device kernels and copies are
// queued on their device's stream. Before Run returns (with outputs or an error) every stream has finished, so
// nothing a device still reads or writes is reused or freed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "graph/model.h"

namespace ferry {

struct SessionOptions {
  int num_threads = 1;   // compute threads for this worker (OpenMP + BLAS)
  bool profile = false;  // time every step (see Session::profile()); a device step's time is its queueing
  // Where nodes run, in preference order, the CPU implied last; empty: the model's (ModelOptions::devices).
  std::vector<const Device*> devices;
};

// Accumulated compute time per op type, when SessionOptions::profile is set.
struct OpProfile {
  double total_ms = 0;
  int64_t calls = 0;
};

class Session {
 public:
  static constexpr size_t kMaxPlans = 64;

  Session(std::shared_ptr<const Model> model, const SessionOptions& options);

  // Runs the model. `inputs` in model->inputs() order; returns outputs in model->outputs() order.
  // Fails with InvalidArgument on inputs that do not match the signature, or the kernel's error.
  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs);
  // Same, by name; every input must be given, unknown names are refused.
  Result<std::map<std::string, Tensor>> Run(const std::map<std::string, Tensor>& inputs);

  // Compute threads for the next runs, clamped to [1, SessionOptions::num_threads] (plans size their per-thread
  // scratch for num_threads, so a session may run with fewer but never more). For a shared thread budget.
  void SetThreads(int threads);
  int threads() const { return active_threads_; }

  // Builds the plan for these input shapes and allocates the arena it needs now, so that later runs of this
  // size (or smaller) never allocate intermediates: the worst-case batch is planned once, up front.
  Status Reserve(const std::vector<TensorView>& inputs);

  // The plan these inputs would run with (built if needed).
  Result<const Plan*> PlanFor(const std::vector<TensorView>& inputs);
  const Model& model() const { return *model_; }
  // Bytes of intermediate memory (arena + kernel scratch) allocated so far, on every location / on one.
  size_t arena_bytes() const;
  size_t arena_bytes(Location location) const;
  const std::map<std::string, OpProfile>& profile() const { return profile_; }

 private:
  Result<Plan*> FindOrBuildPlan(const std::vector<TensorView>& inputs);
  // Grows the arenas to what `plan` needs and makes the streams it uses.
  Status Bind(const Plan& plan);
  Status RunSteps(Plan& plan, const std::vector<Tensor>& inputs, std::vector<Tensor>& outputs);

  std::shared_ptr<const Model> model_;
  SessionOptions options_;
  int active_threads_ = 1;
  // Declared in this order so that streams (whose destruction waits for queued work) go first, then the
  // arenas and plans that work may use.
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  std::map<Location, Buffer> arenas_;
  std::map<Location, std::unique_ptr<Stream>> streams_;
  std::map<std::string, OpProfile> profile_;
};

}  // namespace ferry
