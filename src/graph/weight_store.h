// WeightStore: a model's constants in one device's memory, uploaded once and shared by every plan (and so every
// instance) of the model on that device, with what kernels derive from them (packed weights): a device holds
// each weight, and each packed form of it, once per model.
//
// Thread-safe: workers planning at the same time share one upload. A store lives as long as the Model or a plan
// holding it; its buffers are freed with it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "backends/device.h"
#include "common/thread_annotations.h"

namespace ferry {

class WeightStore {
 public:
  explicit WeightStore(const Device& device) : device_(device) {}

  const Device& device() const { return device_; }
  // The device copy of constant `value` (a graph value id) whose host bytes are `host`, uploaded on first use.
  // ResourceExhausted when the device's memory does not hold it.
  Result<const void*> Get(int value, const Tensor& host) EXCLUDES(mu_);
  // What a kernel derived from constant `value` as `layout` (DerivedConstants), made by `make` on first use.
  std::shared_ptr<const void> Derived(int value, const std::string& layout,
                                      const std::function<std::shared_ptr<const void>()>& make) EXCLUDES(mu_);
  // Bytes of uploaded constants held on the device.
  size_t bytes() const EXCLUDES(mu_);

 private:
  const Device& device_;
  mutable Mutex mu_;
  std::map<int, Buffer> buffers_ GUARDED_BY(mu_);
  std::map<std::pair<int, std::string>, std::shared_ptr<const void>> derived_ GUARDED_BY(mu_);
  size_t bytes_ GUARDED_BY(mu_) = 0;
};

// One synchronous upload of `bytes` host bytes into new `usage` memory of `device`.
Result<Buffer> UploadToDevice(const Device& device, const void* data, size_t bytes, BufferUsage usage);

}  // namespace ferry
