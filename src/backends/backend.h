// Backend: where a model's kernels run and its memory lives.
//
// The CPU backend is the reference and the universal fallback. A device backend (CUDA) provides device
// memory, host<->device copies, streams, and its own kernel table; the graph layer asks each backend
// "can you run this node?" and never tests for a device kind itself. Backends are thread-safe: one instance
// serves every worker; per-worker state (streams, arenas) is created through it and owned by the worker.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "common/status.h"
#include "kernels/kernel.h"

namespace ferry {

enum class DeviceKind { kCpu, kGpu };

// Owns backend memory; the deleter returns it to the backend that allocated it.
struct DeviceBuffer {
  std::shared_ptr<void> memory;
  size_t bytes = 0;
  void* data() const { return memory.get(); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual DeviceKind kind() const = 0;

  // Zero-initialized memory of at least `bytes` (64-byte aligned). Fails with ResourceExhausted.
  virtual Result<DeviceBuffer> Allocate(size_t bytes) const = 0;
  // Copies between host memory and this backend's memory, ordered on `stream` (nullptr: synchronous).
  virtual Status CopyToDevice(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  virtual Status CopyToHost(void* dst, const void* src, size_t bytes, void* stream) const = 0;
  // A new stream/queue for one worker, and its release; the CPU backend returns nullptr.
  virtual Result<void*> CreateStream() const = 0;
  virtual void DestroyStream(void* stream) const = 0;
  virtual Status Synchronize(void* stream) const = 0;
  // Sets how many threads the calling worker's kernels may use.
  virtual void SetThreadsForCurrentWorker(int threads) const = 0;

  virtual const KernelTable& kernels() const = 0;

  // Can this backend run the node? OK, or why not (unknown op, unsupported opset, attribute or type).
  Status Supports(const KernelDef& def) const;
  // A new kernel instance for `def`; the caller owns it.
  Result<std::unique_ptr<Kernel>> CreateKernel(const KernelDef& def) const;
};

// The process-wide CPU backend.
const Backend& CpuBackend();

}  // namespace ferry
