// DeviceRegistry: the devices of this process, each with an ordinal (its Location).
//
// The CPU is always there, at kHostLocation. Backends register their devices once at start (the CUDA backend
// one per GPU; tests a simulated device); devices are never removed, so a `const Device*` from the registry
// is valid for the life of the process. Thread-safe.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "backends/device.h"
#include "common/thread_annotations.h"

namespace ferry {

class DeviceRegistry {
 public:
  // The process's registry.
  static DeviceRegistry& Global();

  // Adds a device and gives it the next ordinal. InvalidArgument when a device of the same id is registered.
  Result<const Device*> Register(std::shared_ptr<Device> device) EXCLUDES(mu_);
  // nullptr for an unknown location or id.
  const Device* Get(Location location) const EXCLUDES(mu_);
  const Device* Find(std::string_view id) const EXCLUDES(mu_);
  // In ordinal order, the CPU first.
  std::vector<const Device*> All() const EXCLUDES(mu_);

 private:
  DeviceRegistry();
  mutable Mutex mu_;
  std::vector<std::shared_ptr<Device>> devices_ GUARDED_BY(mu_);
};

// The CPU device (DeviceRegistry::Global().Get(kHostLocation)).
const Device& CpuDevice();

}  // namespace ferry
