#include "server/admission.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "backends/device_registry.h"

namespace ferry {

namespace {

uint64_t SatAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
uint64_t SatMul(uint64_t a, uint64_t b) { return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b; }

// Bytes of the constants a plan computed while planning (its own kConstant slots that are not initializers).
uint64_t PlannedConstantBytes(const Model& model, const Plan& plan) {
  uint64_t bytes = 0;
  const auto& initializers = model.graph().initializers;
  for (size_t v = 0; v < plan.slots.size(); ++v) {
    const ValueSlot& s = plan.slots[v];
    if (s.kind == ValueSlot::Kind::kConstant && s.location == kHostLocation &&
        initializers.count(static_cast<int>(v)) == 0) {
      bytes = SatAdd(bytes, s.constant.nbytes());
    }
  }
  return bytes;
}

// True when some value of the plan that lives in the arena or is handed out as an output has a byte size that
// does not fit a size_t: the plan's own sums (which do not saturate) then mean nothing.
bool PlanOverflows(const Plan& plan) {
  for (const ValueSlot& s : plan.slots) {
    if (s.kind != ValueSlot::Kind::kArena && s.kind != ValueSlot::Kind::kOutput) continue;
    if (SaturatingByteSize(s.shape, s.dtype) == SIZE_MAX) return true;
  }
  return false;
}

}  // namespace

uint64_t DeviceFootprint::total_bytes() const {
  return SatAdd(weight_bytes, SatMul(static_cast<uint64_t>(std::max<int64_t>(instances, 0)), per_instance_bytes));
}

uint64_t DefaultDeviceMemoryBytes(const Device& device) {
  const uint64_t total = device.memory().total_bytes;
  const uint64_t reserve = std::max<uint64_t>(total / 16, uint64_t{256} << 20);
  return total > reserve ? total - reserve : 0;
}

uint64_t Footprint::total_bytes() const {
  return SatAdd(weight_bytes, SatMul(static_cast<uint64_t>(std::max<int64_t>(instances, 0)), per_instance_bytes));
}

std::string Footprint::Describe() const {
  std::string devices_text;
  for (const auto& [id, d] : devices) {
    devices_text += fmt::format("; on {}: {} bytes (weights {} + {} instances x {})", id, d.total_bytes(),
                                d.weight_bytes, d.instances, d.per_instance_bytes);
  }
  if (batch == 0) {
    return fmt::format("{} bytes (weights {}; {} instances whose memory is planned per request){}", total_bytes(),
                       weight_bytes, instances, devices_text);
  }
  return fmt::format("{} bytes (weights {} + {} instances x {} planned for batch {}){}", total_bytes(), weight_bytes,
                     instances, per_instance_bytes, batch, devices_text);
}

Result<Footprint> EstimateFootprint(const Model& model, const SchedulerSettings& settings, int threads) {
  Footprint f;
  f.weight_bytes = model.weight_bytes();
  for (const InstanceGroup& g : settings.instances) f.instances += std::max(0, g.count);
  for (bool keyed : model.value_keyed_inputs()) {
    if (keyed) return f;  // no plan before the values are known
  }
  f.batch = std::max<int64_t>(1, settings.batching.max_batch_size);
  std::vector<Shape> shapes = model.ShapesForBatch(f.batch);
  std::vector<TensorView> views;
  for (size_t i = 0; i < shapes.size(); ++i) views.push_back(TensorView{model.inputs()[i].dtype, shapes[i], nullptr});
  Result<std::unique_ptr<Plan>> plan = model.BuildPlan(views, std::max(1, threads));
  if (!plan.ok()) return plan.status().WithContext(fmt::format("planning batch {}", f.batch));
  // A batch so large that a tensor's size overflows (max_batch_size is not bounded by the config parser) needs
  // more than any limit allows.
  if (PlanOverflows(**plan)) {
    f.per_instance_bytes = UINT64_MAX;
    return f;
  }
  // Session::Reserve allocates the host arena: ArenaPlan::bytes(), arena + scratch + alignment slack.
  f.per_instance_bytes =
      SatAdd((*plan)->host().bytes(), SatAdd((*plan)->output_bytes, PlannedConstantBytes(model, **plan)));
  // Instances on devices: one plan per device, as those instances build theirs, counting instead of uploading.
  FERRY_ASSIGN_OR_RETURN(std::vector<InstanceSpec> specs, ResolveInstances(settings));
  std::map<const Device*, int64_t> on_device;
  for (const InstanceSpec& spec : specs)
    if (spec.device && spec.device != &CpuDevice()) ++on_device[spec.device];
  for (const auto& [device, count] : on_device) {
    PlanOptions options{std::max(1, threads), {device}, /*upload=*/false};
    Result<std::unique_ptr<Plan>> dplan = model.BuildPlan(views, options);
    if (!dplan.ok()) return dplan.status().WithContext(fmt::format("planning batch {} on {}", f.batch, device->id()));
    DeviceFootprint& d = f.devices[std::string(device->id())];
    d.instances = count;
    d.weight_bytes = (*dplan)->weight_bytes(device->location());
    auto arena = (*dplan)->arenas.find(device->location());
    if (arena != (*dplan)->arenas.end()) d.per_instance_bytes = arena->second.bytes();
  }
  return f;
}

Status CheckVersionMemory(const std::string& what, const Footprint& footprint, const AdmissionLimits& limits) {
  if (footprint.total_bytes() <= limits.max_model_memory_bytes) return Status::Ok();
  return ResourceExhausted("{} needs {}, over max_model_memory_bytes = {}", what, footprint.Describe(),
                           limits.max_model_memory_bytes);
}

uint64_t DefaultServerMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  uint64_t available = pages > 0 && page_size > 0 ? SatMul(static_cast<uint64_t>(pages), page_size) : UINT64_MAX;
  // cgroup v2: "max" or a byte count.
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string text;
  if (in >> text && !text.empty() && text.find_first_not_of("0123456789") == std::string::npos && text.size() < 20) {
    available = std::min<uint64_t>(available, std::stoull(text));
  }
  return available == UINT64_MAX ? UINT64_MAX : available / 4 * 3;
}

// ---- AdmissionLedger ----------------------------------------------------------------------------------------

AdmissionLedger::Reservation::Reservation(Reservation&& other) noexcept
    : ledger_(std::move(other.ledger_)), id_(std::exchange(other.id_, 0)) {}

AdmissionLedger::Reservation& AdmissionLedger::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Release();
    ledger_ = std::move(other.ledger_);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

AdmissionLedger::Reservation::~Reservation() { Release(); }

void AdmissionLedger::Reservation::Release() {
  if (ledger_ && id_ != 0) ledger_->Release(id_);
  ledger_.reset();
  id_ = 0;
}

std::shared_ptr<AdmissionLedger> AdmissionLedger::Create(AdmissionLimits limits) {
  if (limits.max_server_memory_bytes == 0) limits.max_server_memory_bytes = DefaultServerMemoryBytes();
  return std::shared_ptr<AdmissionLedger>(new AdmissionLedger(limits));
}

Status AdmissionLedger::CheckLocked(const std::string& what, const std::map<uint64_t, Footprint>& replaced,
                                    const Footprint& added) const {
  int64_t others_instances = 0;
  uint64_t others_bytes = 0;
  int64_t new_instances = added.instances;
  uint64_t new_bytes = added.total_bytes();
  for (const auto& [id, e] : entries_) {
    auto it = replaced.find(id);
    if (it != replaced.end()) {
      new_instances += it->second.instances;
      new_bytes = SatAdd(new_bytes, it->second.total_bytes());
    } else {
      others_instances += e.footprint.instances;
      others_bytes = SatAdd(others_bytes, e.footprint.total_bytes());
    }
  }
  if (others_instances + new_instances > limits_.max_total_instances) {
    return ResourceExhausted(
        "{} would run {} instances in all, over max_total_instances = {} (the other loaded versions run {}, this "
        "asks for {})",
        what, others_instances + new_instances, limits_.max_total_instances, others_instances, new_instances);
  }
  if (SatAdd(others_bytes, new_bytes) > limits_.max_server_memory_bytes) {
    return ResourceExhausted(
        "{} needs {} bytes and the other loaded versions hold {}: over max_server_memory_bytes = {}", what, new_bytes,
        others_bytes, limits_.max_server_memory_bytes);
  }
  // Each device's memory, against its limit.
  std::map<std::string, uint64_t> others_device, new_device;
  for (const auto& [id, d] : added.devices) new_device[id] = SatAdd(new_device[id], d.total_bytes());
  for (const auto& [id, e] : entries_) {
    auto it = replaced.find(id);
    const Footprint& f = it != replaced.end() ? it->second : e.footprint;
    auto& sums = it != replaced.end() ? new_device : others_device;
    for (const auto& [device, d] : f.devices) sums[device] = SatAdd(sums[device], d.total_bytes());
  }
  for (const auto& [device, bytes] : new_device) {
    const uint64_t limit = DeviceLimit(device);
    const uint64_t others = others_device[device];
    if (SatAdd(others, bytes) > limit) {
      return ResourceExhausted(
          "{} needs {} bytes of {} memory and the other loaded versions hold {} of it: over its device_memory_limit "
          "= {} ({} free)",
          what, bytes, device, others, limit, limit > others ? limit - others : 0);
    }
  }
  return Status::Ok();
}

uint64_t AdmissionLedger::DeviceLimit(const std::string& device) const {
  auto it = limits_.device_memory_limits.find(device);
  if (it != limits_.device_memory_limits.end()) return it->second;
  const Device* d = DeviceRegistry::Global().Find(device);
  return d ? DefaultDeviceMemoryBytes(*d) : 0;
}

uint64_t AdmissionLedger::device_bytes(const std::string& device) const {
  MutexLock lock(mu_);
  uint64_t n = 0;
  for (const auto& [id, e] : entries_) {
    auto it = e.footprint.devices.find(device);
    if (it != e.footprint.devices.end()) n = SatAdd(n, it->second.total_bytes());
  }
  return n;
}

Result<AdmissionLedger::Reservation> AdmissionLedger::Reserve(const std::string& what, const Footprint& footprint) {
  MutexLock lock(mu_);
  FERRY_RETURN_IF_ERROR(CheckLocked(what, {}, footprint));
  const uint64_t id = next_id_++;
  entries_[id] = Entry{what, footprint, nullptr, nullptr};
  return Reservation(shared_from_this(), id);
}

void AdmissionLedger::Bind(uint64_t id, const void* owner, std::shared_ptr<const Model> model) {
  MutexLock lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  it->second.owner = owner;
  it->second.model = std::move(model);
}

Result<AdmissionLedger::Entry> AdmissionLedger::Find(const void* owner) const {
  MutexLock lock(mu_);
  for (const auto& [id, e] : entries_) {
    if (owner != nullptr && e.owner == owner) return e;
  }
  return NotFound("no reservation is bound to this version");
}

Status AdmissionLedger::CheckChange(const std::vector<std::pair<const void*, Footprint>>& changes) const {
  MutexLock lock(mu_);
  std::map<uint64_t, Footprint> replaced;
  std::string what;
  for (const auto& [owner, footprint] : changes) {
    for (const auto& [id, e] : entries_) {
      if (owner == nullptr || e.owner != owner) continue;
      replaced[id] = footprint;
      what += (what.empty() ? "" : ", ") + e.what;
    }
  }
  return CheckLocked(what.empty() ? "the change" : what, replaced, Footprint{});
}

Status AdmissionLedger::Resize(const void* owner, const Footprint& footprint) {
  MutexLock lock(mu_);
  for (auto& [id, e] : entries_) {
    if (owner == nullptr || e.owner != owner) continue;
    FERRY_RETURN_IF_ERROR(CheckLocked(e.what, {{id, footprint}}, Footprint{}));
    e.footprint = footprint;
    return Status::Ok();
  }
  return NotFound("no reservation is bound to this version");
}

int64_t AdmissionLedger::total_instances() const {
  MutexLock lock(mu_);
  int64_t n = 0;
  for (const auto& [id, e] : entries_) n += e.footprint.instances;
  return n;
}

uint64_t AdmissionLedger::total_bytes() const {
  MutexLock lock(mu_);
  uint64_t n = 0;
  for (const auto& [id, e] : entries_) n = SatAdd(n, e.footprint.total_bytes());
  return n;
}

void AdmissionLedger::Release(uint64_t id) {
  MutexLock lock(mu_);
  entries_.erase(id);
}

}  // namespace ferry
