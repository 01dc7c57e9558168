#include "tests/fakes/sim_device.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backends/device_registry.h"

namespace ferry::testing {
namespace {

constexpr unsigned char kPoison = 0xFF;  // NaN as float or double, -1 as a signed integer
constexpr size_t kAlignment = 256;       // what cudaMalloc gives

// The device's memory: live allocations and their use, within a capacity.
class SimHeap {
 public:
  explicit SimHeap(size_t capacity) : capacity_(capacity) {}

  void* Allocate(size_t bytes, BufferUsage usage) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    if (rounded > capacity_ - used_) return nullptr;
    void* p = std::aligned_alloc(kAlignment, rounded);
    if (!p) return nullptr;
    std::memset(p, kPoison, rounded);
    allocations_[reinterpret_cast<uintptr_t>(p)] = Allocation{rounded, usage};
    used_ += rounded;
    return p;
  }

  void Free(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = allocations_.find(reinterpret_cast<uintptr_t>(p));
    if (it == allocations_.end()) std::abort();  // a double free or a foreign pointer: a bug in the caller
    std::memset(p, kPoison, it->second.bytes);
    used_ -= it->second.bytes;
    allocations_.erase(it);
    std::free(p);
  }

  // Whether [p, p + bytes) lies inside one live allocation.
  bool Contains(const void* p, size_t bytes) const {
    std::lock_guard<std::mutex> lock(mu_);
    return Find(reinterpret_cast<uintptr_t>(p), bytes) != allocations_.end();
  }

  // Poisons every compute allocation holding one of `written`: nothing in it may be read by a later run.
  void PoisonCompute(const std::set<const void*>& written) {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<uintptr_t> done;
    for (const void* w : written) {
      auto it = Find(reinterpret_cast<uintptr_t>(w), 0);
      if (it == allocations_.end() || it->second.usage != BufferUsage::kCompute || done.count(it->first)) continue;
      std::memset(reinterpret_cast<void*>(it->first), kPoison, it->second.bytes);
      done.insert(it->first);
    }
  }

  size_t used() const {
    std::lock_guard<std::mutex> lock(mu_);
    return used_;
  }
  size_t capacity() const { return capacity_; }

 private:
  struct Allocation {
    size_t bytes;
    BufferUsage usage;
  };
  std::map<uintptr_t, Allocation>::const_iterator Find(uintptr_t p, size_t bytes) const {
    auto it = allocations_.upper_bound(p);
    if (it == allocations_.begin()) return allocations_.end();
    --it;
    // p itself must be inside (one past the end is another allocation's start, or host memory), and so must the
    // last of the bytes.
    if (p < it->first || p - it->first >= it->second.bytes || bytes > it->second.bytes - (p - it->first))
      return allocations_.end();
    return it;
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  std::map<uintptr_t, Allocation> allocations_;
  size_t used_ = 0;
};

class SimBufferType final : public BufferType {
 public:
  SimBufferType(std::string name, SimHeap& heap, const Device& device)
      : name_(std::move(name)), heap_(heap), device_(device) {}
  std::string_view name() const override { return name_; }
  size_t alignment() const override { return kAlignment; }
  bool is_host() const override { return false; }
  Location location() const override { return device_.location(); }

 protected:
  void* AllocateRaw(size_t bytes, BufferUsage usage) const override { return heap_.Allocate(bytes, usage); }
  void FreeRaw(void* data, size_t, BufferUsage) const override { heap_.Free(data); }

 private:
  std::string name_;
  SimHeap& heap_;
  const Device& device_;
};

class SimEvent final : public Event {
 public:
  Status Synchronize() override {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = recorded_;
    cv_.wait(lock, [&] { return done_ >= target; });
    return Status::Ok();
  }
  // Called by Record on the host: the mark the stream will reach.
  uint64_t Mark() {
    std::lock_guard<std::mutex> lock(mu_);
    return ++recorded_;
  }
  // Called by the stream thread.
  void Reach(uint64_t mark) {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = std::max(done_, mark);
    cv_.notify_all();
  }
  void WaitFor(uint64_t mark) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ >= mark; });
  }
  uint64_t recorded() {
    std::lock_guard<std::mutex> lock(mu_);
    return recorded_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t recorded_ = 0, done_ = 0;
};

class SimDevice;

// Work runs in order on a thread of its own; errors are kept for the next Synchronize.
class SimStream final : public Stream {
 public:
  SimStream(const Device& device, SimHeap& heap, int delay_us)
      : device_(device), heap_(heap), delay_us_(delay_us), thread_([this] { Loop(); }) {}
  ~SimStream() override {
    (void)Synchronize();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  const Device& device() const override { return device_; }

  Status CopyToDevice(void* dst, const void* src, size_t bytes) override {
    if (!heap_.Contains(dst, bytes))
      return Internal("{}: copy to the device into memory that is not the device's", Id());
    if (heap_.Contains(src, 0)) return Internal("{}: copy to the device from device memory", Id());
    Enqueue(
        [=] {
          Copy(dst, src, bytes);
          return Status::Ok();
        },
        dst);
    return Status::Ok();
  }
  Status CopyToHost(void* dst, const void* src, size_t bytes) override {
    if (!heap_.Contains(src, bytes)) return Internal("{}: copy to the host from memory that is not the device's", Id());
    if (heap_.Contains(dst, 0)) return Internal("{}: copy to the host into device memory", Id());
    Enqueue(
        [=] {
          Copy(dst, src, bytes);
          return Status::Ok();
        },
        nullptr);
    return Status::Ok();
  }
  Status CopyOnDevice(void* dst, const void* src, size_t bytes) override {
    if (!heap_.Contains(dst, bytes) || !heap_.Contains(src, bytes))
      return Internal("{}: copy on the device between memory that is not all the device's", Id());
    Enqueue(
        [=] {
          Copy(dst, src, bytes);
          return Status::Ok();
        },
        dst);
    return Status::Ok();
  }
  Status Record(Event& event) override {
    auto* e = static_cast<SimEvent*>(&event);
    const uint64_t mark = e->Mark();
    Enqueue(
        [e, mark] {
          e->Reach(mark);
          return Status::Ok();
        },
        nullptr, /*delay=*/false);
    return Status::Ok();
  }
  Status Wait(Event& event) override {
    auto* e = static_cast<SimEvent*>(&event);
    const uint64_t mark = e->recorded();
    Enqueue(
        [e, mark] {
          e->WaitFor(mark);
          return Status::Ok();
        },
        nullptr, /*delay=*/false);
    return Status::Ok();
  }
  Status Synchronize() override {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
    heap_.PoisonCompute(written_);
    written_.clear();
    Status error = std::move(error_);
    error_ = Status::Ok();
    return error;
  }
  void* native() override { return this; }

  // Queues `work`, which writes device memory at `writes` (poisoned at the next Synchronize when it is compute
  // memory).
  void Enqueue(std::function<Status()> work, const void* writes, bool delay = true) {
    std::vector<const void*> w;
    if (writes) w.push_back(writes);
    Enqueue(std::move(work), std::move(w), delay);
  }
  void Enqueue(std::function<Status()> work, std::vector<const void*> writes, bool delay = true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(Item{std::move(work), std::move(writes), delay});
    }
    cv_.notify_all();
  }
  std::string_view Id() const { return device_.id(); }

 private:
  struct Item {
    std::function<Status()> work;
    std::vector<const void*> writes;
    bool delay;
  };
  static void Copy(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void Loop() {
    CpuDevice().SetThreadsForCurrentWorker(1);  // wrapped CPU kernels run single-threaded here
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      Item item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      if (item.delay && delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
      Status s = item.work();
      lock.lock();
      busy_ = false;
      if (!s.ok() && error_.ok()) error_ = std::move(s);
      written_.insert(item.writes.begin(), item.writes.end());
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  const Device& device_;
  SimHeap& heap_;
  const int delay_us_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> queue_;
  bool busy_ = false, stop_ = false;
  Status error_;
  std::set<const void*> written_;
  std::thread thread_;  // last: starts after the members it uses
};

// A CPU kernel that runs on the simulated stream, after checking that every pointer is in the memory the
// placement says.
class SimKernel final : public Kernel {
 public:
  SimKernel(const Device& device, SimHeap& heap, std::unique_ptr<Kernel> inner, const KernelPlacement& placement,
            std::string what)
      : device_(device), heap_(heap), inner_(std::move(inner)), placement_(placement), what_(std::move(what)) {}

  Status Prepare(KernelContext& ctx) override { return inner_->Prepare(ctx); }

  Status Compute(KernelContext& ctx) override {
    auto* stream = static_cast<SimStream*>(ctx.stream());
    if (stream == nullptr || &stream->device() != &device_)
      return Internal("{}: {} ran without its device's stream", device_.id(), what_);
    for (size_t k = 0; k < ctx.num_inputs(); ++k) {
      if (!ctx.has_input(k)) continue;
      const TensorView& in = ctx.input(k);
      const bool on_device = heap_.Contains(in.data, in.nbytes());
      if (placement_.is_host_input(k) ? heap_.Contains(in.data, 0) : !on_device)
        return Internal("{}: {} input {} is not in {} memory", device_.id(), what_, k,
                        placement_.is_host_input(k) ? "host" : "device");
    }
    std::vector<const void*> writes;
    for (size_t k = 0; k < ctx.num_outputs(); ++k) {
      const TensorView& out = ctx.output(k);
      if (!heap_.Contains(out.data, out.nbytes()))
        return Internal("{}: {} output {} is not in device memory", device_.id(), what_, k);
      writes.push_back(out.data);
    }
    if (ctx.scratch_bytes_ > 0) {
      if (!heap_.Contains(ctx.scratch(), ctx.scratch_bytes_))
        return Internal("{}: {} scratch is not in device memory", device_.id(), what_);
      writes.push_back(ctx.scratch());
    }
    KernelContext copy = ctx;
    copy.stream_ = nullptr;
    copy.num_threads_ = 1;
    Kernel* inner = inner_.get();
    std::string what = what_;
    stream->Enqueue(
        [inner, copy, what]() mutable {
          Status s = inner->Compute(copy);
          return s.ok() ? s : Status(s.code(), what + ": " + s.message());
        },
        std::move(writes));
    return Status::Ok();
  }

 private:
  const Device& device_;
  SimHeap& heap_;
  std::unique_ptr<Kernel> inner_;
  KernelPlacement placement_;
  std::string what_;
};

class SimDevice final : public Device {
 public:
  explicit SimDevice(const SimDeviceOptions& options)
      : options_(options), heap_(options.capacity_bytes), buffers_(options.id, heap_, *this) {
    for (const auto& [op, entries] : CpuDevice().kernels().entries()) {
      if (options.runs_op && !options.runs_op(op)) continue;
      for (const KernelEntry& e : entries) {
        KernelEntry wrapped = e;
        wrapped.create = [this, create = e.create,
                          placement = e.placement](const KernelDef& def) -> Result<std::unique_ptr<Kernel>> {
          FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> inner, create(def));
          return std::unique_ptr<Kernel>(new SimKernel(*this, heap_, std::move(inner), placement,
                                                       def.name.empty() ? def.op_type : def.op_type + " " + def.name));
        };
        table_.Add(op, std::move(wrapped));
      }
    }
  }

  std::string_view id() const override { return options_.id; }
  std::string_view type() const override { return "sim"; }
  std::string name() const override { return fmt::format("simulated device ({} MiB)", options_.capacity_bytes >> 20); }
  DeviceMemoryInfo memory() const override { return {heap_.capacity(), heap_.capacity() - heap_.used()}; }
  DeviceCapabilities capabilities() const override { return DeviceCapabilities{true, false}; }
  const BufferType& buffer_type() const override { return buffers_; }
  Result<std::unique_ptr<Stream>> CreateStream() const override {
    return std::unique_ptr<Stream>(new SimStream(*this, heap_, options_.delay_us));
  }
  Result<std::unique_ptr<Event>> CreateEvent() const override { return std::unique_ptr<Event>(new SimEvent()); }
  const KernelTable& kernels() const override { return table_; }

  size_t used() const { return heap_.used(); }

 private:
  SimDeviceOptions options_;
  mutable SimHeap heap_;
  SimBufferType buffers_;
  KernelTable table_;
};

}  // namespace

bool SimSplitOps(const std::string& op) {
  unsigned sum = 0;
  for (char c : op) sum += static_cast<unsigned char>(c);
  return sum % 2 == 0;
}

const Device* RegisterSimDevice(const SimDeviceOptions& options) {
  if (const Device* existing = DeviceRegistry::Global().Find(options.id)) return existing;
  auto registered = DeviceRegistry::Global().Register(std::make_shared<SimDevice>(options));
  return registered.ok() ? *registered : nullptr;
}

size_t SimDeviceUsedBytes(const Device& device) { return static_cast<const SimDevice&>(device).used(); }

}  // namespace ferry::testing
