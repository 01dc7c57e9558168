// Scheduler: how requests for one model version reach its instances. A bounded queue, a dynamic batcher that
// concatenates compatible requests along the batch dimension (BatchPolicy decides), and a set of instances
// (each a thread with its own memory plan): a batch goes to the first instance that is free.
//
//   Enqueue --> queue (bounded; full: ResourceExhausted) --> the first free instance asks DecideBatch -->
//   concatenate inputs --> Instance::Run --> split outputs by rows --> each request's `done`
//
// Deadlines: each request may carry a timeout (else the settings' default; 0: none); one that expires while
// queued is answered DeadlineExceeded without running. Settings change at run time (Update): batching applies
// to the next decision, instance counts grow or shrink without failing a request (a retiring instance finishes
// its batch first).
//
// Batching needs a batch dimension: every input and output must have a symbolic first dimension. For other
// models (and requests whose inputs disagree on it) requests run one at a time.
//
// CPU threads: instances take their share of a ThreadBudget shared by every scheduler of the server (total /
// instances, at least 1), re-read before each batch, so adding instances anywhere never oversubscribes cores.
//
// Ownership and threads: the scheduler belongs to its ModelVersion. A request's `done` usually holds that
// version's handle, so the scheduler may be destroyed from its own instance thread when the last request
// finishes; the destructor then detaches that thread instead of joining it. Destroying the scheduler answers
// the requests still queued with Unavailable. Every method is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/status.h"
#include "ferry/tensor.h"
#include "graph/model.h"
#include "scheduler/batch_policy.h"
#include "scheduler/clock.h"
#include "scheduler/instance.h"

namespace ferry {

// CPU threads shared by every instance of the server.
class ThreadBudget {
 public:
  explicit ThreadBudget(int total_threads) : total_(std::max(1, total_threads)) {}
  int total() const { return total_; }
  void AddInstances(int n) { instances_ += n; }
  // Threads for one instance now: total / instances, at least 1.
  int PerInstance() const { return std::max(1, total_ / std::max(1, instances_.load())); }

 private:
  const int total_;
  std::atomic<int> instances_{0};
};

// `count` instances of `kind`, placed round-robin on the group's devices: the CPU for kind cpu; for kind gpu the
// accelerators listed in `gpus` (indexes among the server's accelerators), or all of them.
struct InstanceGroup {
  std::string kind = "cpu";
  int count = 1;
  std::vector<int> gpus;

  bool operator==(const InstanceGroup&) const = default;
};

struct SchedulerSettings {
  BatchingSettings batching;
  size_t max_queue_size = 1024;    // requests waiting; beyond it Enqueue fails with ResourceExhausted
  int64_t default_timeout_us = 0;  // microseconds a request may wait in the queue; 0: no limit
  std::vector<InstanceGroup> instances{InstanceGroup{}};

  bool operator==(const SchedulerSettings&) const = default;
};

// When a request ran, for metrics and the statistics extension.
struct RequestTiming {
  double queue_seconds = 0;    // enqueue -> its batch started
  double compute_seconds = 0;  // the batch's input assembly + run + output split
  int64_t batch_rows = 0;      // rows of the batch it ran in
};

struct SchedulerRequest {
  std::vector<Tensor> inputs;         // in the model's input order
  std::optional<int64_t> timeout_us;  // overrides the default; <= 0: no limit
  // Called exactly once, on an instance thread (or in Enqueue's caller? never: Enqueue returns an error
  // instead), with the outputs in the model's output order or the error.
  std::function<void(Result<std::vector<Tensor>>, const RequestTiming&)> done;
};

// Totals since the scheduler started (Triton's statistics extension).
struct DurationStat {
  uint64_t count = 0;
  uint64_t ns = 0;
};
struct BatchSizeStat {
  DurationStat compute_input, compute_infer, compute_output;
};
struct SchedulerStats {
  uint64_t inference_count = 0;   // rows of successful requests
  uint64_t execution_count = 0;   // batches run
  int64_t last_inference_ms = 0;  // ms since the epoch of the last batch; 0: never
  DurationStat success, fail, queue, compute_input, compute_infer, compute_output;
  std::map<int64_t, BatchSizeStat> batch_stats;  // by batch rows
};

// One executed batch, for the metrics observer.
struct BatchRecord {
  int64_t rows = 0;
  size_t requests = 0;
  double compute_seconds = 0;
};

struct SchedulerOptions {
  std::string name;                    // "model/version", for threads and messages
  std::shared_ptr<const Model> model;  // required: the signature decides what can be batched
  SchedulerSettings settings;
  InstanceFactory factory;                           // required
  Clock* clock = nullptr;                            // nullptr: RealClock()
  std::shared_ptr<ThreadBudget> budget;              // nullptr: one thread per instance
  std::function<void(const BatchRecord&)> on_batch;  // optional; called on the instance thread
};

class Scheduler {
 public:
  // Validates the settings, creates every instance (planning the largest batch up front) and starts them.
  static Result<std::shared_ptr<Scheduler>> Create(SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request. InvalidArgument: wrong input count, or an input whose batch dimension holds more rows
  // than max_batch_size (naming both);
  // ResourceExhausted: the queue is full; Unavailable: the scheduler is stopping. On error `done` is not called.
  Status Enqueue(SchedulerRequest request);

  // Applies new settings to the running scheduler (batching at once, instance counts by adding or retiring
  // instances). InvalidArgument for invalid settings (nothing changes then).
  Status Update(const SchedulerSettings& settings);

  // Whether requests of this model can be combined into batches at all.
  bool batchable() const;
  size_t queue_depth() const;
  int instance_count() const;
  SchedulerStats stats() const;
  SchedulerSettings settings() const;
  // Memory its instances planned up front (arenas, staging), in bytes, by device id ("cpu", "cuda:0").
  std::map<std::string, size_t> planned_bytes() const;

  struct State;  // shared with the instance threads

 private:
  explicit Scheduler(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// Checks settings against a model: preferred sizes ascending within [1, max_batch_size], counts >= 1, known
// instance kinds: "cpu", and "gpu" for the server's accelerator devices (every registered device whose memory
// is not host memory; Unimplemented when there is none), whose `gpus` must index them.
Status ValidateSchedulerSettings(const SchedulerSettings& settings);

// Kind and device of every instance `settings` ask for, in order (round-robin over each group's devices); the
// errors of ValidateSchedulerSettings.
Result<std::vector<InstanceSpec>> ResolveInstances(const SchedulerSettings& settings);

// The instances of a model whose config names none (Triton's default): one per GPU, or one on the CPU.
std::vector<InstanceGroup> DefaultInstanceGroups();

}  // namespace ferry
