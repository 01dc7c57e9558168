#include "backends/device_registry.h"

#include "backends/cpu_device.h"

namespace ferry {

DeviceRegistry::DeviceRegistry() {
  std::shared_ptr<Device> cpu = MakeCpuDevice();
  cpu->location_ = kHostLocation;
  devices_.push_back(std::move(cpu));
}

DeviceRegistry& DeviceRegistry::Global() {
  static DeviceRegistry* registry = new DeviceRegistry();  // never destroyed: devices outlive every worker
  return *registry;
}

Result<const Device*> DeviceRegistry::Register(std::shared_ptr<Device> device) {
  MutexLock lock(mu_);
  for (const auto& d : devices_)
    if (d->id() == device->id()) return InvalidArgument("device {} is already registered", device->id());
  device->location_ = static_cast<Location>(devices_.size());
  devices_.push_back(device);
  return device.get();
}

const Device* DeviceRegistry::Get(Location location) const {
  MutexLock lock(mu_);
  if (location < 0 || static_cast<size_t>(location) >= devices_.size()) return nullptr;
  return devices_[location].get();
}

const Device* DeviceRegistry::Find(std::string_view id) const {
  MutexLock lock(mu_);
  for (const auto& d : devices_)
    if (d->id() == id) return d.get();
  return nullptr;
}

std::vector<const Device*> DeviceRegistry::All() const {
  MutexLock lock(mu_);
  std::vector<const Device*> out;
  for (const auto& d : devices_) out.push_back(d.get());
  return out;
}

const Device& CpuDevice() {
  static const Device* cpu = DeviceRegistry::Global().Get(kHostLocation);
  return *cpu;
}

}  // namespace ferry
