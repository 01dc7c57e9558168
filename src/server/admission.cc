#include "server/admission.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

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

uint64_t Footprint::total_bytes() const {
  return SatAdd(weight_bytes, SatMul(static_cast<uint64_t>(std::max<int64_t>(instances, 0)), per_instance_bytes));
}

std::string Footprint::Describe() const {
  if (batch == 0) {
    return fmt::format("{} bytes (weights {}; {} instances whose memory is planned per request)", total_bytes(),
                       weight_bytes, instances);
  }
  return fmt::format("{} bytes (weights {} + {} instances x {} planned for batch {})", total_bytes(), weight_bytes,
                     instances, per_instance_bytes, batch);
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
  return Status::Ok();
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
