// Device: one place where kernels run and tensors live; the seam a backend implements (shaped after ggml-backend's
// device and ONNX Runtime's execution provider: identity, memory, buffer types, streams, events, and "can you
// run this node?").
//
// Adding a backend means a Device subclass with its BufferType and Stream (src/backends/<name>_device.cc), a
// kernel table (kernels/<name>/kernel_table.cc) and its kernels; the graph layer places nodes, plans memory and
// inserts copies from what this interface says, and never tests for a device type.
//
// Devices are made once and registered (device_registry.h); they live as long as the process and are
// thread-safe. Per-worker state (streams, arenas) is created through them and owned by the worker.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "backends/buffer.h"
#include "backends/stream.h"
#include "common/status.h"
#include "kernels/kernel.h"

namespace ferry {

struct DeviceMemoryInfo {
  size_t total_bytes = 0;
  size_t free_bytes = 0;
};

struct DeviceCapabilities {
  // Queued work may run after the queueing call returns: the host must wait on an event or the stream before
  // it reads what the work writes.
  bool async = false;
  // The device's memory is host memory (the CPU): a tensor there needs no copy to be read by the host.
  bool host_memory = false;
};

class Device {
 public:
  virtual ~Device() = default;

  // Stable identifier: "cpu", "cuda:0", "sim:0" (what configs and `ferryd inspect --device` name).
  virtual std::string_view id() const = 0;
  // The kind of device: "cpu", "cuda", "sim" (an instance group's kind selects devices by it).
  virtual std::string_view type() const = 0;
  // For people: "NVIDIA H100 80GB HBM3", "host CPU (16 threads)".
  virtual std::string name() const = 0;
  virtual DeviceMemoryInfo memory() const = 0;
  virtual DeviceCapabilities capabilities() const = 0;
  // The registry ordinal, which tensors in its memory carry as their Location; -1 until registered.
  Location location() const { return location_; }

  // The device's own memory.
  virtual const BufferType& buffer_type() const = 0;
  // Host memory the device copies from and to fastest (pinned memory for a GPU; default: plain host memory):
  // where instances stage a batch's inputs.
  virtual const BufferType& host_buffer_type() const;
  virtual Result<std::unique_ptr<Stream>> CreateStream() const = 0;
  virtual Result<std::unique_ptr<Event>> CreateEvent() const = 0;

  // The ops it runs (placement attributes included, kernel.h).
  virtual const KernelTable& kernels() const = 0;
  // How many threads the calling worker's kernels on this device may use (OpenMP/BLAS on the CPU).
  virtual void SetThreadsForCurrentWorker(int threads) const {}

  // The table entry that would run `def`, or why none does: unknown op, unsupported opset, domain or fused
  // activation. A kernel may still refuse the node's attributes or types in CreateKernel.
  Result<const KernelEntry*> FindKernel(const KernelDef& def) const;
  // Can this device run the node? OK, or why not (op, opset, attribute or type).
  Status Supports(const KernelDef& def) const { return CreateKernel(def).status(); }
  // A new kernel instance for `def`; the caller owns it.
  Result<std::unique_ptr<Kernel>> CreateKernel(const KernelDef& def) const;

 private:
  friend class DeviceRegistry;
  Location location_ = -1;
};

}  // namespace ferry
