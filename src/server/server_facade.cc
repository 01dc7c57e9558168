#include "server/server_facade.h"

#include <utility>

#include "backends/device_registry.h"
#include "registry/model_config.h"

namespace ferry {

namespace {

// What AcquireVersion hands out: the public description plus the manager's handle, which keeps the version loaded.
struct HeldVersion final : ServedVersion {
  VersionHandle handle;
};

TensorInfo InfoOf(const TensorSignature& s) {
  TensorInfo info;
  info.name = s.name;
  info.dtype = s.dtype;
  info.has_shape = s.has_shape;
  for (const Dim& d : s.shape) info.shape.push_back(DimInfo{d.value, d.param});
  return info;
}

DurationTotals TotalsOf(const DurationStat& d) { return DurationTotals{d.count, d.ns}; }

}  // namespace

Result<VersionRef> ServerFacade::AcquireVersion(const std::string& model, std::optional<int64_t> version,
                                                const std::optional<std::string>& label) const {
  Result<VersionHandle> handle = server_->manager().Acquire(model, version, label);
  if (!handle.ok()) return handle.status();
  auto held = std::make_shared<HeldVersion>();
  const ModelVersion& v = **handle;
  held->model = v.model_name;
  held->version = v.version;
  for (const TensorSignature& s : v.model->inputs()) held->inputs.push_back(InfoOf(s));
  for (const TensorSignature& s : v.model->outputs()) held->outputs.push_back(InfoOf(s));
  held->handle = std::move(*handle);
  return VersionRef(std::move(held));
}

Status ServerFacade::Infer(InferRequest request, InferCallback done) {
  VersionRef served = std::move(request.served);
  if (served == nullptr) {
    Result<VersionRef> acquired = AcquireVersion(request.model, request.version, request.label);
    if (!acquired.ok()) return acquired.status();
    served = std::move(*acquired);
  }
  const auto* held = dynamic_cast<const HeldVersion*>(served.get());
  if (held == nullptr) return InvalidArgument("the version was not acquired from this server");
  VersionHandle handle = held->handle;
  if (!handle->scheduler) return Status(StatusCode::kUnavailable, "the version has no scheduler");
  SchedulerRequest queued;
  for (const TensorSignature& s : handle->model->inputs()) {
    auto it = request.inputs.find(s.name);
    if (it == request.inputs.end()) return InvalidArgument("missing input \"{}\"", s.name);
    queued.inputs.push_back(std::move(it->second));
  }
  request.inputs.clear();  // inputs the model does not take (they may alias the request body)
  queued.timeout_us = request.timeout_us;
  ServingMetrics* metrics = &server_->metrics();
  queued.done = [handle, done = std::move(done), metrics](Result<std::vector<Tensor>> outputs,
                                                          const RequestTiming& timing) {
    if (timing.batch_rows > 0) metrics->RecordTiming(handle->model_name, handle->version, timing);
    const InferTiming when{timing.queue_seconds, timing.compute_seconds, timing.batch_rows};
    if (!outputs.ok()) return done(outputs.status(), when);
    std::map<std::string, Tensor> named;
    const auto& sig = handle->model->outputs();
    for (size_t i = 0; i < outputs->size() && i < sig.size(); ++i) named[sig[i].name] = std::move((*outputs)[i]);
    done(std::move(named), when);
  };
  return handle->scheduler->Enqueue(std::move(queued));
}

VersionStatistics ServerFacade::Statistics(const ServedVersion& version) const {
  VersionStatistics out;
  out.model = version.model;
  out.version = version.version;
  const auto* held = dynamic_cast<const HeldVersion*>(&version);
  if (held == nullptr) return out;
  const ModelVersion& v = *held->handle;
  const SchedulerStats st = v.scheduler ? v.scheduler->stats() : SchedulerStats{};
  out.inference_count = st.inference_count;
  out.execution_count = st.execution_count;
  out.last_inference_ms = st.last_inference_ms;
  out.success = TotalsOf(st.success);
  out.fail = TotalsOf(st.fail);
  out.queue = TotalsOf(st.queue);
  out.compute_input = TotalsOf(st.compute_input);
  out.compute_infer = TotalsOf(st.compute_infer);
  out.compute_output = TotalsOf(st.compute_output);
  for (const auto& [rows, b] : st.batch_stats) {
    out.batches.push_back(
        BatchStatistics{rows, TotalsOf(b.compute_input), TotalsOf(b.compute_infer), TotalsOf(b.compute_output)});
  }
  // By device id: the host copy of the weights, each device's copy, and what the instances planned there.
  std::map<std::string, uint64_t> by_device{{"cpu", v.model->weight_bytes()}};
  for (const auto& [location, bytes] : v.model->DeviceWeightBytes())
    by_device[std::string(DeviceRegistry::Global().Get(location)->id())] += bytes;
  if (v.scheduler) {
    for (const auto& [device, bytes] : v.scheduler->planned_bytes()) by_device[device] += bytes;
  }
  int64_t gpu_index = 0;
  for (const Device* d : DeviceRegistry::Global().All()) {
    const bool host = d->capabilities().host_memory;
    auto it = by_device.find(std::string(d->id()));
    if (it != by_device.end()) {
      if (host) out.memory_bytes += it->second;
      out.memory.push_back(VersionStatistics::DeviceMemory{host ? "CPU" : "GPU", host ? 0 : gpu_index, it->second});
    }
    if (!host) ++gpu_index;
  }
  return out;
}

size_t ServerFacade::MaxConfigBytes() const { return kMaxModelConfigBytes; }

void ServerFacade::RequestStarted() { server_->metrics().in_flight().Add(1); }

void ServerFacade::RequestAnswered(const RequestRecord& record) {
  ServingMetrics& metrics = server_->metrics();
  metrics.RecordRequest(record.protocol, record.model, record.version, record.status, record.seconds);
  metrics.in_flight().Add(-1);
}

}  // namespace ferry
