#include "scheduler/scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <set>
#include <thread>

#include "backends/device_registry.h"
#include "common/thread_annotations.h"

namespace ferry {

namespace {

double Seconds(Clock::TimePoint a, Clock::TimePoint b) { return std::chrono::duration<double>(b - a).count(); }
uint64_t Nanos(Clock::TimePoint a, Clock::TimePoint b) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()));
}

void Add(DurationStat& s, uint64_t ns, uint64_t count = 1) {
  s.count += count;
  s.ns += ns;
}

// The server's accelerator devices (every registered device whose memory is not host memory), in registry order:
// what kind gpu means, and what `gpus: [i]` indexes.
std::vector<const Device*> Accelerators() {
  std::vector<const Device*> out;
  for (const Device* d : DeviceRegistry::Global().All())
    if (!d->capabilities().host_memory) out.push_back(d);
  return out;
}

std::string DeviceList(const std::vector<const Device*>& devices) {
  std::string out;
  for (size_t i = 0; i < devices.size(); ++i) out += fmt::format("{}{}: {}", i ? ", " : "", i, devices[i]->id());
  return out;
}

// The devices a group's instances go to, round-robin.
Result<std::vector<const Device*>> GroupDevices(const InstanceGroup& g) {
  if (g.kind == "cpu") {
    if (!g.gpus.empty()) return InvalidArgument("instances: gpus is for kind gpu, not cpu");
    return std::vector<const Device*>{&CpuDevice()};
  }
  if (g.kind != "gpu") return InvalidArgument("instances: unknown kind \"{}\" (known: cpu, gpu)", g.kind);
  const std::vector<const Device*> all = Accelerators();
  if (all.empty()) return Unimplemented("instances: kind gpu needs a GPU, and this server has none");
  if (g.gpus.empty()) return all;
  std::vector<const Device*> out;
  for (int id : g.gpus) {
    if (id < 0 || static_cast<size_t>(id) >= all.size())
      return InvalidArgument("instances: gpus: {} is not a GPU of this server (it has {})", id, DeviceList(all));
    out.push_back(all[id]);
  }
  return out;
}

}  // namespace

Result<std::vector<InstanceSpec>> ResolveInstances(const SchedulerSettings& s) {
  std::vector<InstanceSpec> specs;
  for (const InstanceGroup& g : s.instances) {
    FERRY_ASSIGN_OR_RETURN(std::vector<const Device*> devices, GroupDevices(g));
    for (int i = 0; i < g.count; ++i) {
      InstanceSpec spec;
      spec.kind = g.kind;
      spec.device = devices[static_cast<size_t>(i) % devices.size()];
      spec.index = static_cast<int>(specs.size());
      specs.push_back(spec);
    }
  }
  return specs;
}

namespace {

bool HasBatchDim(const TensorSignature& s) { return s.has_shape && !s.shape.empty() && !s.shape[0].fixed(); }

}  // namespace

Status ValidateSchedulerSettings(const SchedulerSettings& s) {
  const BatchingSettings& b = s.batching;
  if (b.max_batch_size < 0) return InvalidArgument("max_batch_size must be >= 0, got {}", b.max_batch_size);
  if (b.max_queue_delay_us < 0) return InvalidArgument("max_queue_delay_us must be >= 0, got {}", b.max_queue_delay_us);
  for (size_t i = 0; i < b.preferred_batch_sizes.size(); ++i) {
    int64_t p = b.preferred_batch_sizes[i];
    if (p < 1 || (b.max_batch_size > 0 && p > b.max_batch_size)) {
      return InvalidArgument("preferred_batch_sizes: {} is outside [1, max_batch_size = {}]", p, b.max_batch_size);
    }
    if (i > 0 && p <= b.preferred_batch_sizes[i - 1]) {
      return InvalidArgument("preferred_batch_sizes must be ascending and distinct");
    }
  }
  if (s.max_queue_size < 1) return InvalidArgument("max_queue_size must be >= 1");
  if (s.instances.empty()) return InvalidArgument("instances: at least one instance group is needed");
  for (const InstanceGroup& g : s.instances) {
    if (g.count < 1 || g.count > 256) return InvalidArgument("instances: count must be in 1..256, got {}", g.count);
    FERRY_RETURN_IF_ERROR(GroupDevices(g).status());
  }
  return Status::Ok();
}

std::vector<InstanceGroup> DefaultInstanceGroups() {
  const size_t gpus = Accelerators().size();
  if (gpus == 0) return {InstanceGroup{}};
  InstanceGroup g;
  g.kind = "gpu";
  g.count = static_cast<int>(gpus);
  return {g};
}

struct Scheduler::State {
  struct Slot {
    InstanceSpec spec;
    std::unique_ptr<Instance> instance;
    std::thread thread;
    bool retiring = false;  // guarded by State::mu (not annotated: a Slot does not know its State)
  };

  SchedulerOptions options;
  Clock* clock = nullptr;
  bool batchable = false;

  mutable Mutex mu;
  std::condition_variable_any cv;
  SchedulerSettings settings GUARDED_BY(mu);
  std::deque<QueuedItem> items GUARDED_BY(mu);
  std::deque<SchedulerRequest> requests GUARDED_BY(mu);  // parallel to items
  bool stop GUARDED_BY(mu) = false;
  uint64_t next_id GUARDED_BY(mu) = 0;                      // makes keys of requests that never combine unique
  std::vector<std::shared_ptr<Slot>> slots GUARDED_BY(mu);  // the live ones
  SchedulerStats stats GUARDED_BY(mu);
  Mutex update_mu;  // serializes Update

  int64_t max_threads() const { return options.budget ? options.budget->total() : 1; }
  // The batch each new instance plans its memory for: the largest one the settings allow.
  int64_t WarmupBatch(const SchedulerSettings& s) const {
    return batchable ? std::max<int64_t>(1, s.batching.max_batch_size) : 0;
  }

  Result<std::shared_ptr<Slot>> NewSlot(const InstanceSpec& spec, int64_t warmup_batch) {
    auto slot = std::make_shared<Slot>();
    slot->spec = spec;
    slot->spec.max_threads = static_cast<int>(max_threads());
    slot->spec.warmup_batch = warmup_batch;
    FERRY_ASSIGN_OR_RETURN(slot->instance, options.factory(slot->spec));
    if (!slot->instance) return Internal("the instance factory returned nothing");
    return slot;
  }

  void Start(const std::shared_ptr<Slot>& slot, const std::shared_ptr<State>& self) {
    slot->thread = std::thread([self, slot] {
      std::string name = (self->options.name + "#" + std::to_string(slot->spec.index));
      if (name.size() > 15) name = name.substr(name.size() - 15);
      pthread_setname_np(pthread_self(), name.c_str());
      self->Loop(*slot);
    });
  }

  // Rows along the batch dimension, and the key of what it combines with ("" = never combines).
  std::pair<int64_t, std::string> Describe(const std::vector<Tensor>& inputs) const {
    if (!batchable || inputs.empty() || inputs[0].shape().empty()) return {1, ""};
    const int64_t rows = inputs[0].shape()[0];
    std::string key;
    for (const Tensor& t : inputs) {
      if (t.shape().empty() || t.shape()[0] != rows) return {1, ""};
      key += std::to_string(static_cast<int>(t.dtype()));
      for (size_t d = 1; d < t.shape().size(); ++d) key += "," + std::to_string(t.shape()[d]);
      key += ";";
    }
    return {rows, key};
  }

  void Loop(Slot& slot) EXCLUDES(mu) {
    MutexLock lock(mu);
    for (;;) {
      if (stop || slot.retiring) return;
      const Clock::TimePoint now = clock->Now();
      BatchDecision d = DecideBatch(items, now, settings.batching);
      if (d.expired.empty() && d.run.empty()) {
        clock->WaitUntil(lock, cv, d.wake);
        continue;
      }
      std::vector<SchedulerRequest> expired, batch;
      std::vector<QueuedItem> batch_items;
      std::set<size_t> take(d.expired.begin(), d.expired.end());
      take.insert(d.run.begin(), d.run.end());
      std::set<size_t> run(d.run.begin(), d.run.end());
      std::deque<QueuedItem> keep_items;
      std::deque<SchedulerRequest> keep_requests;
      for (size_t i = 0; i < items.size(); ++i) {
        if (!take.count(i)) {
          keep_items.push_back(std::move(items[i]));
          keep_requests.push_back(std::move(requests[i]));
        } else if (run.count(i)) {
          batch_items.push_back(std::move(items[i]));
          batch.push_back(std::move(requests[i]));
        } else {
          expired.push_back(std::move(requests[i]));
          Add(stats.fail, Nanos(items[i].enqueued, now));
        }
      }
      items.swap(keep_items);
      requests.swap(keep_requests);
      lock.Unlock();
      for (SchedulerRequest& r : expired) {
        r.done(Status(StatusCode::kDeadlineExceeded, "the request's deadline passed while it waited in the queue"),
               RequestTiming{});
      }
      expired.clear();  // may drop the version's last handle; this thread keeps the State alive
      if (!batch.empty()) RunBatch(slot, batch, batch_items, now);
      lock.Lock();
    }
  }

  void RunBatch(Slot& slot, std::vector<SchedulerRequest>& batch, const std::vector<QueuedItem>& batch_items,
                Clock::TimePoint started) EXCLUDES(mu) {
    int64_t rows = 0;
    for (const QueuedItem& q : batch_items) rows += q.rows;
    // The instance gathers the requests' rows into its own staging memory, as part of its run.
    Batch inputs;
    inputs.rows = rows;
    for (SchedulerRequest& r : batch) inputs.requests.push_back(&r.inputs);
    const Clock::TimePoint t_input = clock->Now();
    const int threads = options.budget ? options.budget->PerInstance() : 1;
    Result<std::vector<Tensor>> outputs = slot.instance->Run(inputs, threads);
    for (SchedulerRequest& r : batch) r.inputs.clear();
    const Clock::TimePoint t_infer = clock->Now();
    // Per request: its outputs, or the batch's error.
    std::vector<Result<std::vector<Tensor>>> results;
    if (!outputs.ok() || batch.size() == 1) {
      results.push_back(std::move(outputs));
    } else {
      std::vector<std::vector<Tensor>> split(batch.size());
      Status bad;
      for (const Tensor& out : *outputs) {
        if (out.shape().empty() || out.shape()[0] != rows) {
          bad = Internal("output of shape [{}] has no batch dimension of {} rows; cannot split the batch",
                         fmt::join(out.shape(), ","), rows);
          break;
        }
        // Each request gets its rows of the batch's output, sharing its memory.
        int64_t first = 0;
        for (size_t k = 0; k < batch.size(); ++k) {
          split[k].push_back(out.Rows(first, batch_items[k].rows));
          first += batch_items[k].rows;
        }
        if (!bad.ok()) break;
      }
      for (size_t k = 0; k < batch.size(); ++k) {
        results.push_back(bad.ok() ? Result<std::vector<Tensor>>(std::move(split[k]))
                                   : Result<std::vector<Tensor>>(bad));
      }
    }
    outputs = std::vector<Tensor>();
    const Clock::TimePoint t_output = clock->Now();
    {
      MutexLock lock(mu);
      stats.execution_count += 1;
      stats.last_inference_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      BatchSizeStat& bs = stats.batch_stats[rows];
      Add(bs.compute_input, Nanos(started, t_input));
      Add(bs.compute_infer, Nanos(t_input, t_infer));
      Add(bs.compute_output, Nanos(t_infer, t_output));
      for (size_t k = 0; k < batch.size(); ++k) {
        const bool request_ok = results[std::min(k, results.size() - 1)].ok();
        Add(request_ok ? stats.success : stats.fail, Nanos(batch_items[k].enqueued, t_output));
        Add(stats.queue, Nanos(batch_items[k].enqueued, started));
        Add(stats.compute_input, Nanos(started, t_input));
        Add(stats.compute_infer, Nanos(t_input, t_infer));
        Add(stats.compute_output, Nanos(t_infer, t_output));
        if (request_ok) stats.inference_count += static_cast<uint64_t>(batch_items[k].rows);
      }
    }
    if (options.on_batch) options.on_batch(BatchRecord{rows, batch.size(), Seconds(started, t_output)});
    for (size_t k = 0; k < batch.size(); ++k) {
      RequestTiming timing{Seconds(batch_items[k].enqueued, started), Seconds(started, t_output), rows};
      // One result per request, or the batch's one error shared by all (copied: a moved-from error is empty).
      if (results.size() == batch.size()) {
        batch[k].done(std::move(results[k]), timing);
      } else {
        batch[k].done(results[0], timing);
      }
    }
    batch.clear();  // may drop the version's last handle
  }
};

Result<std::shared_ptr<Scheduler>> Scheduler::Create(SchedulerOptions options) {
  if (!options.model) return InvalidArgument("Scheduler needs a model");
  if (!options.factory) return InvalidArgument("Scheduler needs an instance factory");
  FERRY_RETURN_IF_ERROR(ValidateSchedulerSettings(options.settings));
  auto state = std::make_shared<State>();
  state->clock = options.clock ? options.clock : RealClock();
  bool batchable = !options.model->inputs().empty();
  for (const TensorSignature& s : options.model->inputs()) batchable = batchable && HasBatchDim(s);
  for (const TensorSignature& s : options.model->outputs()) batchable = batchable && HasBatchDim(s);
  for (bool keyed : options.model->value_keyed_inputs()) batchable = batchable && !keyed;
  state->batchable = batchable;
  const SchedulerSettings settings = options.settings;
  state->options = std::move(options);
  const int64_t warmup = state->WarmupBatch(settings);
  std::vector<std::shared_ptr<State::Slot>> slots;
  FERRY_ASSIGN_OR_RETURN(std::vector<InstanceSpec> specs, ResolveInstances(settings));
  for (const InstanceSpec& spec : specs) {
    FERRY_ASSIGN_OR_RETURN(auto slot, state->NewSlot(spec, warmup));
    slots.push_back(std::move(slot));
  }
  if (state->options.budget) state->options.budget->AddInstances(static_cast<int>(slots.size()));
  {
    MutexLock lock(state->mu);
    state->settings = settings;
    state->slots = slots;
  }
  for (auto& slot : slots) state->Start(slot, state);
  return std::shared_ptr<Scheduler>(new Scheduler(std::move(state)));
}

Scheduler::~Scheduler() {
  std::deque<SchedulerRequest> leftover;
  std::vector<std::shared_ptr<State::Slot>> slots;
  {
    MutexLock lock(state_->mu);
    state_->stop = true;
    leftover.swap(state_->requests);
    state_->items.clear();
    slots = state_->slots;
  }
  state_->cv.notify_all();
  if (state_->options.budget) state_->options.budget->AddInstances(-static_cast<int>(slots.size()));
  for (SchedulerRequest& r : leftover) {
    r.done(Status(StatusCode::kUnavailable, "the model version is unloading"), RequestTiming{});
  }
  for (auto& slot : slots) {
    if (slot->thread.get_id() == std::this_thread::get_id()) {
      slot->thread.detach();  // the thread holds the State and returns at its next check
    } else if (slot->thread.joinable()) {
      slot->thread.join();
    }
  }
}

Status Scheduler::Enqueue(SchedulerRequest request) {
  State& st = *state_;
  if (!request.done) return InvalidArgument("a request needs a completion callback");
  if (request.inputs.size() != st.options.model->inputs().size()) {
    return InvalidArgument("expected {} inputs, got {}", st.options.model->inputs().size(), request.inputs.size());
  }
  auto [rows, key] = st.Describe(request.inputs);
  QueuedItem item;
  item.rows = rows;
  item.shape_key = std::move(key);
  item.enqueued = st.clock->Now();
  {
    MutexLock lock(st.mu);
    if (st.stop) return Status(StatusCode::kUnavailable, "the model version is unloading");
    // The limit holds for every input with a batch dimension, whether or not requests can be combined.
    const int64_t max_batch = st.settings.batching.max_batch_size;
    const std::vector<TensorSignature>& sig = st.options.model->inputs();
    for (size_t i = 0; i < sig.size() && max_batch > 0; ++i) {
      const Shape& shape = request.inputs[i].shape();
      if (HasBatchDim(sig[i]) && !shape.empty() && shape[0] > max_batch) {
        return InvalidArgument("input \"{}\" has a batch of {} rows, over the model's max_batch_size of {}",
                               sig[i].name, shape[0], max_batch);
      }
    }
    if (st.items.size() >= st.settings.max_queue_size) {
      return ResourceExhausted("the queue of {} is full ({} requests waiting)", st.options.name, st.items.size());
    }
    int64_t timeout = request.timeout_us ? *request.timeout_us : st.settings.default_timeout_us;
    if (timeout > 0) {
      // Saturates: a timeout past what the clock can represent means no deadline, not an overflow into the past.
      const auto room = std::chrono::duration_cast<std::chrono::microseconds>(Clock::kNever - item.enqueued).count();
      item.deadline = timeout >= room ? Clock::kNever : item.enqueued + std::chrono::microseconds(timeout);
    }
    // Only items whose key can combine need a batching key; with batching off every request runs alone.
    if (!st.settings.batching.dynamic) item.shape_key.clear();
    if (item.shape_key.empty()) item.shape_key = "#" + std::to_string(st.next_id++);
    st.items.push_back(std::move(item));
    st.requests.push_back(std::move(request));
  }
  st.cv.notify_one();
  return Status::Ok();
}

Status Scheduler::Update(const SchedulerSettings& settings) {
  FERRY_RETURN_IF_ERROR(ValidateSchedulerSettings(settings));
  State& st = *state_;
  MutexLock update_lock(st.update_mu);
  FERRY_ASSIGN_OR_RETURN(std::vector<InstanceSpec> want, ResolveInstances(settings));
  std::vector<std::shared_ptr<State::Slot>> have;
  {
    MutexLock lock(st.mu);
    have = st.slots;
  }
  // Instance i stays when its kind and device stay (its plans for a larger batch are made when first needed);
  // otherwise a new one replaces it. New instances are created (and plan their memory) before they join, outside the
  // lock.
  const int64_t warmup = st.WarmupBatch(settings);
  std::vector<std::shared_ptr<State::Slot>> next, added, retired;
  for (size_t i = 0; i < want.size(); ++i) {
    if (i < have.size() && have[i]->spec.kind == want[i].kind && have[i]->spec.device == want[i].device) {
      next.push_back(have[i]);
      continue;
    }
    FERRY_ASSIGN_OR_RETURN(auto slot, st.NewSlot(want[i], warmup));
    next.push_back(slot);
    added.push_back(std::move(slot));
  }
  {
    MutexLock lock(st.mu);
    if (st.stop) return Status(StatusCode::kUnavailable, "the model version is unloading");
    st.settings = settings;
    for (auto& slot : st.slots) {
      if (std::find(next.begin(), next.end(), slot) != next.end()) continue;
      slot->retiring = true;
      retired.push_back(slot);
    }
    st.slots = next;
  }
  if (st.options.budget)
    st.options.budget->AddInstances(static_cast<int>(added.size()) - static_cast<int>(retired.size()));
  for (auto& slot : added) st.Start(slot, state_);
  st.cv.notify_all();  // new settings: decide again
  for (auto& slot : retired) {
    if (slot->thread.joinable()) slot->thread.join();  // after its current batch
  }
  return Status::Ok();
}

bool Scheduler::batchable() const { return state_->batchable; }

size_t Scheduler::queue_depth() const {
  MutexLock lock(state_->mu);
  return state_->items.size();
}

int Scheduler::instance_count() const {
  MutexLock lock(state_->mu);
  return static_cast<int>(state_->slots.size());
}

SchedulerStats Scheduler::stats() const {
  MutexLock lock(state_->mu);
  return state_->stats;
}

std::map<std::string, size_t> Scheduler::planned_bytes() const {
  MutexLock lock(state_->mu);
  std::map<std::string, size_t> out;
  for (const auto& slot : state_->slots)
    for (const auto& [device, bytes] : slot->instance->planned_bytes()) out[device] += bytes;
  return out;
}

SchedulerSettings Scheduler::settings() const {
  MutexLock lock(state_->mu);
  return state_->settings;
}

}  // namespace ferry
