// The CPU backend: host memory, synchronous copies, OpenMP/OpenBLAS threads pinned per worker.
#include <cstring>

#include "backends/backend.h"
#include "kernels/cpu/cpu_kernels.h"

namespace ferry {
namespace {

class CpuBackendImpl final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  DeviceKind kind() const override { return DeviceKind::kCpu; }

  Result<DeviceBuffer> Allocate(size_t bytes) const override {
    DeviceBuffer b;
    b.memory = AllocateAligned(bytes);
    if (!b.memory) return ResourceExhausted("out of host memory allocating {} bytes", bytes);
    b.bytes = bytes;
    return b;
  }
  Status CopyToDevice(void* dst, const void* src, size_t bytes, void*) const override {
    if (bytes) std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status CopyToHost(void* dst, const void* src, size_t bytes, void*) const override {
    if (bytes) std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Result<void*> CreateStream() const override { return static_cast<void*>(nullptr); }
  void DestroyStream(void*) const override {}
  Status Synchronize(void*) const override { return Status::Ok(); }
  void SetThreadsForCurrentWorker(int threads) const override { cpu::SetComputeThreads(threads); }
  const KernelTable& kernels() const override { return cpu::CpuKernelTable(); }
};

}  // namespace

const Backend& CpuBackend() {
  static const CpuBackendImpl backend;
  return backend;
}

}  // namespace ferry
