// The device seam itself: the CPU device, buffers, the registry, and the simulated device's memory, copies,
// streams, events and queued errors. Expectations come from the contracts in the headers, not from our own output.
// What the graph layer does with a device is in tests/graph/device_placement_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "backends/cpu_device.h"
#include "backends/device_registry.h"
#include "tests/fakes/sim_device.h"

namespace ferry {
namespace {

using testing::RegisterSimDevice;
using testing::SimDeviceOptions;
using testing::SimDeviceUsedBytes;

constexpr size_t kMiB = size_t{1} << 20;

bool AllBytesAre(const void* p, size_t n, unsigned char value) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != value) return false;
  return true;
}

const Device* Sim(const std::string& id, size_t capacity = 64 * kMiB, int delay_us = 0) {
  const Device* d = RegisterSimDevice(SimDeviceOptions{id, capacity, nullptr, delay_us});
  EXPECT_NE(d, nullptr) << id;
  return d;
}

TEST(CpuDeviceTest, IdentityAndMemoryAreSane) {
  const Device& cpu = CpuDevice();
  EXPECT_EQ(cpu.id(), "cpu");
  EXPECT_EQ(cpu.type(), "cpu");
  EXPECT_FALSE(cpu.name().empty());
  EXPECT_EQ(cpu.location(), kHostLocation);
  const DeviceMemoryInfo mem = cpu.memory();
  EXPECT_GT(mem.total_bytes, 64 * kMiB);
  EXPECT_GT(mem.free_bytes, 0u);
  EXPECT_LE(mem.free_bytes, mem.total_bytes);
  EXPECT_TRUE(cpu.capabilities().host_memory);
  EXPECT_FALSE(cpu.capabilities().async);
  const BufferType& bt = cpu.buffer_type();
  EXPECT_EQ(&bt, &HostBufferType());
  EXPECT_TRUE(bt.is_host());
  EXPECT_EQ(bt.location(), kHostLocation);
  EXPECT_GE(bt.alignment(), 64u);
  EXPECT_EQ(bt.alignment() & (bt.alignment() - 1), 0u) << "alignment must be a power of two";
  EXPECT_TRUE(cpu.kernels().HasOp("Conv"));
  EXPECT_TRUE(cpu.kernels().HasOp("Relu"));
  auto stream = cpu.CreateStream();
  ASSERT_TRUE(stream.ok());
  EXPECT_EQ(&(*stream)->device(), &cpu);
  EXPECT_EQ((*stream)->native(), nullptr);
}

TEST(CpuDeviceTest, StreamCopiesAreDoneWhenTheCallReturns) {
  auto stream = CpuDevice().CreateStream();
  ASSERT_TRUE(stream.ok());
  const std::vector<int> src = {1, 2, 3, 4, 5};
  std::vector<int> dst(5, 0);
  ASSERT_TRUE((*stream)->CopyToDevice(dst.data(), src.data(), sizeof(int) * 5).ok());
  EXPECT_EQ(dst, src);  // synchronous: no Synchronize needed
  auto event = CpuDevice().CreateEvent();
  ASSERT_TRUE(event.ok());
  EXPECT_TRUE((*event)->Synchronize().ok()) << "never recorded: OK at once";
  EXPECT_TRUE((*stream)->Record(**event).ok());
  EXPECT_TRUE((*event)->Synchronize().ok());
  EXPECT_TRUE((*stream)->Synchronize().ok());
}

TEST(CpuDeviceTest, KernelsAnswerWhatTheyRun) {
  KernelDef relu;
  relu.op_type = "Relu";
  relu.opset = 13;
  relu.input_types = {DataType::kFloat};
  relu.input_present = {true};
  relu.input_constant = {false};
  relu.num_outputs = 1;
  EXPECT_TRUE(CpuDevice().Supports(relu).ok());
  KernelDef unknown = relu;
  unknown.op_type = "NoSuchOp";
  EXPECT_EQ(CpuDevice().Supports(unknown).code(), StatusCode::kUnimplemented);
  KernelDef other_domain = relu;
  other_domain.domain = "com.example";
  EXPECT_EQ(CpuDevice().Supports(other_domain).code(), StatusCode::kUnimplemented);
  KernelDef fused = relu;
  fused.activation.kind = ActivationKind::kRelu;  // Relu does not take an epilogue
  EXPECT_EQ(CpuDevice().Supports(fused).code(), StatusCode::kUnimplemented);
}

TEST(BufferTest, HostBuffersAreAlignedZeroFilledAndMoveOnly) {
  const BufferType& bt = HostBufferType();
  auto a = bt.Allocate(1000, BufferUsage::kCompute);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(static_cast<bool>(*a));
  EXPECT_EQ(a->size(), 1000u);
  EXPECT_EQ(a->usage(), BufferUsage::kCompute);
  EXPECT_EQ(a->type(), &bt);
  EXPECT_EQ(a->location(), kHostLocation);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data()) % bt.alignment(), 0u);
  EXPECT_TRUE(AllBytesAre(a->data(), 1000, 0));

  // Zero bytes still give a distinct, non-null buffer.
  auto z1 = bt.Allocate(0, BufferUsage::kWeights);
  auto z2 = bt.Allocate(0, BufferUsage::kWeights);
  ASSERT_TRUE(z1.ok() && z2.ok());
  EXPECT_NE(z1->data(), nullptr);
  EXPECT_NE(z1->data(), z2->data());
  EXPECT_EQ(z1->size(), 0u);

  void* p = a->data();
  Buffer moved(std::move(*a));
  EXPECT_EQ(moved.data(), p);
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_EQ(a->data(), nullptr);  // NOLINT(bugprone-use-after-move): the contract says it is emptied
  EXPECT_EQ(a->size(), 0u);
  EXPECT_EQ(a->type(), nullptr);
  EXPECT_FALSE(static_cast<bool>(*a));
  EXPECT_EQ(a->location(), kHostLocation);

  Buffer assigned;
  EXPECT_FALSE(static_cast<bool>(assigned));
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), p);
  assigned = std::move(assigned);  // self-move keeps it
  EXPECT_EQ(assigned.data(), p);
}

TEST(BufferTest, DeviceBuffersGoBackToTheirTypeWhenDestroyedOrReplaced) {
  const Device* sim = Sim("sim:buffers", 16 * kMiB);
  ASSERT_NE(sim, nullptr);
  const size_t base = SimDeviceUsedBytes(*sim);
  const BufferType& bt = sim->buffer_type();
  EXPECT_FALSE(bt.is_host());
  EXPECT_EQ(bt.location(), sim->location());
  EXPECT_GE(bt.alignment(), 64u);
  {
    auto a = bt.Allocate(3000, BufferUsage::kCompute);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->location(), sim->location());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data()) % bt.alignment(), 0u);
    EXPECT_GE(SimDeviceUsedBytes(*sim), base + 3000);
    auto b = bt.Allocate(5000, BufferUsage::kWeights);
    ASSERT_TRUE(b.ok());
    const size_t both = SimDeviceUsedBytes(*sim);
    *a = std::move(*b);  // a's old allocation is returned now
    EXPECT_LT(SimDeviceUsedBytes(*sim), both);
    EXPECT_GE(SimDeviceUsedBytes(*sim), base + 5000);
  }
  EXPECT_EQ(SimDeviceUsedBytes(*sim), base);
}

// A device the test makes itself, for the registry's duplicate check.
class NamedDevice final : public Device {
 public:
  explicit NamedDevice(std::string id) : id_(std::move(id)) {}
  std::string_view id() const override { return id_; }
  std::string_view type() const override { return "named"; }
  std::string name() const override { return id_; }
  DeviceMemoryInfo memory() const override { return {}; }
  DeviceCapabilities capabilities() const override { return {}; }
  const BufferType& buffer_type() const override { return HostBufferType(); }
  Result<std::unique_ptr<Stream>> CreateStream() const override { return Unimplemented("no streams"); }
  Result<std::unique_ptr<Event>> CreateEvent() const override { return Unimplemented("no events"); }
  const KernelTable& kernels() const override { return table_; }

 private:
  std::string id_;
  KernelTable table_;
};

TEST(DeviceRegistryTest, CpuFirstThenEachDeviceItsOwnOrdinal) {
  DeviceRegistry& r = DeviceRegistry::Global();
  EXPECT_EQ(r.Get(kHostLocation), &CpuDevice());
  EXPECT_EQ(r.Find("cpu"), &CpuDevice());
  ASSERT_FALSE(r.All().empty());
  EXPECT_EQ(r.All()[0], &CpuDevice());
  EXPECT_EQ(r.Get(-1), nullptr);
  EXPECT_EQ(r.Find("no-such-device"), nullptr);

  // Fresh ids, so the test also holds when repeated in one process (--gtest_repeat).
  static int round = 0;
  ++round;
  const std::string id = "sim:registry-" + std::to_string(round), named_id = "named:" + std::to_string(round);
  const size_t before = r.All().size();
  EXPECT_EQ(r.Get(static_cast<Location>(before)), nullptr);
  const Device* sim = Sim(id);
  ASSERT_NE(sim, nullptr);
  EXPECT_EQ(sim->location(), static_cast<Location>(before));
  EXPECT_EQ(r.Get(sim->location()), sim);
  EXPECT_EQ(r.Find(id), sim);
  EXPECT_EQ(r.All().size(), before + 1);
  EXPECT_EQ(r.All().back(), sim);
  EXPECT_EQ(sim->type(), "sim");

  // The test helper returns the device already registered under an id; the registry itself refuses a second.
  EXPECT_EQ(Sim(id), sim);
  EXPECT_EQ(r.All().size(), before + 1);
  auto again = r.Register(std::make_shared<NamedDevice>(id));
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.All().size(), before + 1);

  auto named = r.Register(std::make_shared<NamedDevice>(named_id));
  ASSERT_TRUE(named.ok());
  EXPECT_EQ((*named)->location(), static_cast<Location>(before + 1));
  EXPECT_EQ(r.Find(named_id), *named);
}

TEST(SimDeviceTest, AllocationBeyondCapacityIsResourceExhausted) {
  const Device* sim = Sim("sim:capacity", 1 * kMiB);
  ASSERT_NE(sim, nullptr);
  EXPECT_EQ(sim->memory().total_bytes, 1 * kMiB);
  EXPECT_EQ(sim->memory().free_bytes, 1 * kMiB);
  EXPECT_TRUE(sim->capabilities().async);
  EXPECT_FALSE(sim->capabilities().host_memory);

  auto huge = sim->buffer_type().Allocate(2 * kMiB, BufferUsage::kCompute);
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(SimDeviceUsedBytes(*sim), 0u);
  {
    auto a = sim->buffer_type().Allocate(600 * 1024, BufferUsage::kWeights);
    ASSERT_TRUE(a.ok());
    EXPECT_GE(SimDeviceUsedBytes(*sim), 600u * 1024);
    EXPECT_EQ(sim->memory().free_bytes, 1 * kMiB - SimDeviceUsedBytes(*sim));
    auto b = sim->buffer_type().Allocate(600 * 1024, BufferUsage::kCompute);
    EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted) << "two 600 KiB buffers in 1 MiB";
    EXPECT_NE(b.status().message().find("614400"), std::string::npos) << b.status().ToString();
  }
  EXPECT_EQ(SimDeviceUsedBytes(*sim), 0u);
  auto again = sim->buffer_type().Allocate(1 * kMiB, BufferUsage::kCompute);  // all of it is back
  EXPECT_TRUE(again.ok());
}

TEST(SimDeviceTest, CopiesRefusePointersOnTheWrongSide) {
  const Device* sim = Sim("sim:copies");
  ASSERT_NE(sim, nullptr);
  auto dev = sim->buffer_type().Allocate(64, BufferUsage::kCompute);
  auto dev2 = sim->buffer_type().Allocate(64, BufferUsage::kCompute);
  ASSERT_TRUE(dev.ok() && dev2.ok());
  std::vector<char> host(64), host2(64);
  auto stream = sim->CreateStream();
  ASSERT_TRUE(stream.ok());
  Stream& s = **stream;
  EXPECT_FALSE(s.CopyToDevice(host2.data(), host.data(), 64).ok()) << "destination is host memory";
  EXPECT_FALSE(s.CopyToDevice(dev->data(), dev2->data(), 64).ok()) << "source is device memory";
  // Past the end of the allocation. The simulated heap checks at its 256-byte granularity (as cudaMalloc rounds),
  // so an overrun within the rounding (65 of 64 bytes) is not caught; one past it is.
  std::vector<char> big(300);
  EXPECT_FALSE(s.CopyToDevice(dev->data(), big.data(), 300).ok()) << "past the end of the allocation";
  EXPECT_FALSE(s.CopyToHost(host.data(), host2.data(), 64).ok()) << "source is host memory";
  EXPECT_FALSE(s.CopyToHost(dev2->data(), dev->data(), 64).ok()) << "destination is device memory";
  EXPECT_FALSE(s.CopyOnDevice(dev->data(), host.data(), 64).ok()) << "source is host memory";
  EXPECT_FALSE(s.CopyOnDevice(host.data(), dev->data(), 64).ok()) << "destination is host memory";
  EXPECT_TRUE(s.CopyOnDevice(dev->data(), dev2->data(), 64).ok());
  EXPECT_TRUE(s.Synchronize().ok());
}

TEST(SimDeviceTest, AsyncCopyIsVisibleOnlyAfterSynchronize) {
  const Device* sim = Sim("sim:async", 64 * kMiB, /*delay_us=*/100'000);
  ASSERT_NE(sim, nullptr);
  auto dev = sim->buffer_type().Allocate(256, BufferUsage::kCompute);
  ASSERT_TRUE(dev.ok());
  auto stream = sim->CreateStream();
  ASSERT_TRUE(stream.ok());
  Stream& s = **stream;

  // New device memory is poisoned (0xFF), as the header says: read it back through the stream.
  std::vector<unsigned char> host(256, 0x11);
  ASSERT_TRUE(s.CopyToHost(host.data(), dev->data(), 256).ok());
  EXPECT_TRUE(AllBytesAre(host.data(), 256, 0x11)) << "the copy ran before its delay";
  ASSERT_TRUE(s.Synchronize().ok());
  EXPECT_TRUE(AllBytesAre(host.data(), 256, 0xFF));

  std::vector<unsigned char> src(256);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i);
  std::fill(host.begin(), host.end(), 0x11);
  ASSERT_TRUE(s.CopyToDevice(dev->data(), src.data(), 256).ok());
  ASSERT_TRUE(s.CopyToHost(host.data(), dev->data(), 256).ok());
  EXPECT_TRUE(AllBytesAre(host.data(), 256, 0x11)) << "visible before Synchronize";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(s.Synchronize().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(150)) << "two delayed items";
  EXPECT_EQ(host, src);
}

TEST(SimDeviceTest, EventsOrderWorkAcrossStreams) {
  const Device* sim = Sim("sim:events", 64 * kMiB, /*delay_us=*/40'000);
  ASSERT_NE(sim, nullptr);
  auto buf = sim->buffer_type().Allocate(64, BufferUsage::kCompute);
  auto scratch = sim->buffer_type().Allocate(64, BufferUsage::kCompute);
  ASSERT_TRUE(buf.ok() && scratch.ok());
  auto a = sim->CreateStream();
  auto b = sim->CreateStream();
  auto event = sim->CreateEvent();
  ASSERT_TRUE(a.ok() && b.ok() && event.ok());
  std::vector<unsigned char> src(64, 0x5A), dst(64, 0);

  // Stream a writes `buf` after four other delayed items (~200 ms); stream b reads it after waiting on a's event.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*a)->CopyToDevice(scratch->data(), src.data(), 64).ok());
  ASSERT_TRUE((*a)->CopyToDevice(buf->data(), src.data(), 64).ok());
  ASSERT_TRUE((*a)->Record(**event).ok());
  ASSERT_TRUE((*b)->Wait(**event).ok());
  ASSERT_TRUE((*b)->CopyToHost(dst.data(), buf->data(), 64).ok());
  ASSERT_TRUE((*b)->Synchronize().ok());
  EXPECT_EQ(dst, src) << "b read buf before a's event";
  ASSERT_TRUE((*event)->Synchronize().ok());
  ASSERT_TRUE((*a)->Synchronize().ok());

  // The same without the wait reads what buf held before (a's compute memory was poisoned at its Synchronize):
  // the event is what orders the two streams.
  std::vector<unsigned char> early(64, 0);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*a)->CopyToDevice(scratch->data(), src.data(), 64).ok());
  ASSERT_TRUE((*a)->CopyToDevice(buf->data(), src.data(), 64).ok());
  ASSERT_TRUE((*b)->CopyToHost(early.data(), buf->data(), 64).ok());
  ASSERT_TRUE((*b)->Synchronize().ok());
  EXPECT_TRUE(AllBytesAre(early.data(), 64, 0xFF));
  ASSERT_TRUE((*a)->Synchronize().ok());
}

TEST(SimDeviceTest, ErrorsOfQueuedWorkComeOutOfSynchronize) {
  const Device* sim = Sim("sim:errors", 64 * kMiB, /*delay_us=*/20'000);
  ASSERT_NE(sim, nullptr);
  KernelDef def;
  def.op_type = "Gather";
  def.opset = 13;
  def.input_types = {DataType::kFloat, DataType::kInt64};
  def.input_present = {true, true};
  def.input_constant = {false, false};
  def.num_outputs = 1;
  auto kernel = sim->CreateKernel(def);
  ASSERT_TRUE(kernel.ok()) << kernel.status().ToString();
  KernelContext ctx;
  ctx.inputs_ = {TensorView{DataType::kFloat, {5}}, TensorView{DataType::kInt64, {3}}};
  ctx.present_ = {true, true};
  ctx.outputs_.resize(1);
  ASSERT_TRUE((*kernel)->Prepare(ctx).ok());
  ASSERT_EQ(ctx.outputs_[0].shape, (Shape{3}));

  auto x = sim->buffer_type().Allocate(5 * sizeof(float), BufferUsage::kCompute);
  auto idx = sim->buffer_type().Allocate(3 * sizeof(int64_t), BufferUsage::kCompute);
  auto y = sim->buffer_type().Allocate(3 * sizeof(float), BufferUsage::kCompute);
  auto stream = sim->CreateStream();
  ASSERT_TRUE(x.ok() && idx.ok() && y.ok() && stream.ok());
  const std::vector<float> xs = {10, 11, 12, 13, 14};
  const std::vector<int64_t> bad = {0, 7, 1};
  ASSERT_TRUE((*stream)->CopyToDevice(x->data(), xs.data(), 5 * sizeof(float)).ok());
  ASSERT_TRUE((*stream)->CopyToDevice(idx->data(), bad.data(), 3 * sizeof(int64_t)).ok());
  ctx.inputs_[0].data = x->data();
  ctx.inputs_[1].data = idx->data();
  ctx.outputs_[0].data = y->data();
  ctx.stream_ = (*stream)->native();
  EXPECT_TRUE((*kernel)->Compute(ctx).ok()) << "queued: the bad index is not seen yet";
  Status s = (*stream)->Synchronize();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.ToString();
  EXPECT_TRUE((*stream)->Synchronize().ok()) << "an error is reported once";

  // A kernel given host memory where the placement says device memory fails at once, naming it.
  std::vector<float> host_x(xs);
  ctx.inputs_[0].data = host_x.data();
  EXPECT_FALSE((*kernel)->Compute(ctx).ok());
  ctx.inputs_[0].data = x->data();
  ctx.stream_ = nullptr;
  EXPECT_FALSE((*kernel)->Compute(ctx).ok()) << "no stream";
}

}  // namespace
}  // namespace ferry
