// Admission: what a loaded version costs (its Footprint) and whether the server can take it (AdmissionLedger).
//
// A version's memory is its weights plus, per instance, the memory plan for the worst-case batch: the arena,
// the largest kernel scratch, the outputs of one batch and the constants computed while planning (Plan in
// graph/model.h). Every instance plans and holds its own arena, so the plan counts once per instance. The
// footprint is computed from a plan built the way each instance builds its own, before any instance exists,
// so a version over a limit is refused before its arenas are allocated. It does not count request buffers
// (bounded by the HTTP limits) nor what a model with value-keyed inputs plans per request (no plan can be made
// before the values are known: such a version counts its weights only).
//
// The ledger holds one reservation per loaded version (its footprint) and refuses one that would take the
// server over max_total_instances or max_server_memory_bytes. A reservation lasts as long as its Reservation
// object, which the version's scheduler carries, so it ends with the version whatever thread drops it.
//
// Thread safety: the ledger is thread-safe; Footprint and EstimateFootprint share no state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/thread_annotations.h"
#include "ferry/status.h"
#include "graph/model.h"
#include "scheduler/scheduler.h"

namespace ferry {

// What a version holds in one device's memory (a device other than the CPU).
struct DeviceFootprint {
  uint64_t weight_bytes = 0;        // its copies of the constants its nodes there read, once per model and device
  uint64_t per_instance_bytes = 0;  // one instance's arena and scratch there for `batch`
  int64_t instances = 0;            // instances on the device
  uint64_t total_bytes() const;     // weight_bytes + instances * per_instance_bytes, saturating
};

struct Footprint {
  uint64_t weight_bytes = 0;        // the model's initializers after optimization
  uint64_t per_instance_bytes = 0;  // one instance's plan for `batch`
  int64_t instances = 0;            // across every instance group
  int64_t batch = 0;                // rows planned; 0: no plan (value-keyed inputs)
  // By device id ("cuda:0"): the memory its instances there take, from a plan each, built without uploading.
  // Host figures above stay those of a plan on the CPU (an instance on a device holds no more host memory).
  std::map<std::string, DeviceFootprint> devices;
  // weight_bytes + instances * per_instance_bytes, saturating at UINT64_MAX.
  uint64_t total_bytes() const;
  // "<total> bytes (weights W + N instances x P planned for batch B)".
  std::string Describe() const;
};

// The footprint of `model` run with `settings` by instances whose plans are sized for `threads` compute
// threads. The batch is max_batch_size (at least 1): symbolic first dimensions take it, other symbolic
// dimensions 1, as the instances plan it (Model::ShapesForBatch). Errors: the plan's own (a shape that cannot
// be planned), naming the batch.
Result<Footprint> EstimateFootprint(const Model& model, const SchedulerSettings& settings, int threads);

// Device memory a server may fill: the total minus a reserve of 1/16 (at least 256 MiB) for the device's runtime,
// its libraries' workspaces and fragmentation. What a device's limit defaults to.
uint64_t DefaultDeviceMemoryBytes(const Device& device);

struct AdmissionLimits {
  int64_t max_total_instances = 1024;            // instances of every loaded version together (one thread each)
  uint64_t max_model_memory_bytes = 2ull << 30;  // one version's Footprint::total_bytes()
  uint64_t max_server_memory_bytes = 0;          // every loaded version's together; 0: DefaultServerMemoryBytes()
  // Per device id (device_memory_limit in ferryd.yaml): every loaded version's Footprint::devices together; a
  // device not listed: DefaultDeviceMemoryBytes.
  std::map<std::string, uint64_t> device_memory_limits;
};

// Checks one version's footprint against max_model_memory_bytes. ResourceExhausted naming `what` ("m/2"),
// the limit and the numbers.
Status CheckVersionMemory(const std::string& what, const Footprint& footprint, const AdmissionLimits& limits);

// 3/4 of the memory this process may use: the physical memory, or the cgroup (v2) memory.max when lower.
// What max_server_memory_bytes defaults to.
uint64_t DefaultServerMemoryBytes();

class AdmissionLedger : public std::enable_shared_from_this<AdmissionLedger> {
 public:
  // A reservation; movable, released on destruction (or Release()).
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation();
    void Release();
    uint64_t id() const { return id_; }

   private:
    friend class AdmissionLedger;
    Reservation(std::shared_ptr<AdmissionLedger> ledger, uint64_t id) : ledger_(std::move(ledger)), id_(id) {}
    std::shared_ptr<AdmissionLedger> ledger_;
    uint64_t id_ = 0;
  };

  // One reservation: what it holds and, once bound, the object it belongs to (a version's scheduler) and the
  // model it runs.
  struct Entry {
    std::string what;  // "m/2", for messages
    Footprint footprint;
    const void* owner = nullptr;
    std::shared_ptr<const Model> model;
  };

  // A max_server_memory_bytes of 0 becomes DefaultServerMemoryBytes().
  static std::shared_ptr<AdmissionLedger> Create(AdmissionLimits limits);
  // The limits in force (max_server_memory_bytes resolved).
  const AdmissionLimits& limits() const { return limits_; }

  // Reserves `footprint` for version `what` if the totals stay within max_total_instances and
  // max_server_memory_bytes; ResourceExhausted naming the limit and the numbers otherwise (nothing reserved).
  // Does not check max_model_memory_bytes (CheckVersionMemory does).
  Result<Reservation> Reserve(const std::string& what, const Footprint& footprint);
  // Records who holds reservation `id` (for Find and Resize). REQUIRES: the reservation is live.
  void Bind(uint64_t id, const void* owner, std::shared_ptr<const Model> model);
  // The entry bound to `owner`; NotFound when none.
  Result<Entry> Find(const void* owner) const;
  // Whether the totals would stay within the limits if each bound owner in `changes` held the given footprint
  // instead of its own (a dry run); the same errors as Reserve.
  Status CheckChange(const std::vector<std::pair<const void*, Footprint>>& changes) const;
  // Applies one such change when CheckChange allows it; nothing changes otherwise.
  Status Resize(const void* owner, const Footprint& footprint);

  // Sums over every live reservation.
  int64_t total_instances() const;
  uint64_t total_bytes() const;
  // Bytes every live reservation holds on device `device` ("cuda:0"), and that device's limit.
  uint64_t device_bytes(const std::string& device) const;
  uint64_t DeviceLimit(const std::string& device) const;

 private:
  explicit AdmissionLedger(const AdmissionLimits& limits) : limits_(limits) {}
  // `what` names the version whose change is checked.
  Status CheckLocked(const std::string& what, const std::map<uint64_t, Footprint>& replaced,
                     const Footprint& added) const REQUIRES(mu_);
  void Release(uint64_t id);

  const AdmissionLimits limits_;
  mutable Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ GUARDED_BY(mu_);
};

}  // namespace ferry
