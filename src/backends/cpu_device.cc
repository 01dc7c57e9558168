#include "backends/cpu_device.h"

#include <unistd.h>

#include <cstring>
#include <thread>

#include "kernels/cpu/cpu_kernels.h"

namespace ferry {
namespace {

class HostBufferTypeImpl final : public BufferType {
 public:
  std::string_view name() const override { return "cpu"; }
  size_t alignment() const override { return kArenaAlignment; }
  bool is_host() const override { return true; }
  Location location() const override { return kHostLocation; }

 protected:
  void* AllocateRaw(size_t bytes, BufferUsage) const override {
    const size_t rounded = (bytes + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment;
    void* p = std::aligned_alloc(kArenaAlignment, rounded);
    if (p) std::memset(p, 0, rounded);
    return p;
  }
  void FreeRaw(void* data, size_t, BufferUsage) const override { std::free(data); }

 private:
  static constexpr size_t kArenaAlignment = 64;
};

// Copies run at once, in the calling thread: queued work has always run when the call returns.
class CpuStream final : public Stream {
 public:
  explicit CpuStream(const Device& device) : device_(device) {}
  const Device& device() const override { return device_; }
  Status CopyToDevice(void* dst, const void* src, size_t bytes) override { return Copy(dst, src, bytes); }
  Status CopyToHost(void* dst, const void* src, size_t bytes) override { return Copy(dst, src, bytes); }
  Status CopyOnDevice(void* dst, const void* src, size_t bytes) override { return Copy(dst, src, bytes); }
  Status Record(Event&) override { return Status::Ok(); }
  Status Wait(Event&) override { return Status::Ok(); }
  Status Synchronize() override { return Status::Ok(); }
  void* native() override { return nullptr; }

 private:
  static Status Copy(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memmove(dst, src, bytes);
    return Status::Ok();
  }
  const Device& device_;
};

class CpuEvent final : public Event {
 public:
  Status Synchronize() override { return Status::Ok(); }
};

class CpuDeviceImpl final : public Device {
 public:
  std::string_view id() const override { return "cpu"; }
  std::string_view type() const override { return "cpu"; }
  std::string name() const override {
    return fmt::format("host CPU ({} threads)", std::max(1u, std::thread::hardware_concurrency()));
  }
  DeviceMemoryInfo memory() const override {
    const long page = sysconf(_SC_PAGESIZE);
    const long total = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES);
    DeviceMemoryInfo info;
    if (page > 0 && total > 0) info.total_bytes = static_cast<size_t>(page) * static_cast<size_t>(total);
    if (page > 0 && avail > 0) info.free_bytes = static_cast<size_t>(page) * static_cast<size_t>(avail);
    return info;
  }
  DeviceCapabilities capabilities() const override { return DeviceCapabilities{false, true}; }
  const BufferType& buffer_type() const override { return HostBufferType(); }
  Result<std::unique_ptr<Stream>> CreateStream() const override {
    return std::unique_ptr<Stream>(new CpuStream(*this));
  }
  Result<std::unique_ptr<Event>> CreateEvent() const override { return std::unique_ptr<Event>(new CpuEvent()); }
  const KernelTable& kernels() const override { return cpu::CpuKernelTable(); }
  void SetThreadsForCurrentWorker(int threads) const override { cpu::SetComputeThreads(threads); }
};

}  // namespace

std::shared_ptr<Device> MakeCpuDevice() { return std::make_shared<CpuDeviceImpl>(); }

const BufferType& HostBufferType() {
  static const HostBufferTypeImpl type;
  return type;
}

}  // namespace ferry
