// Device memory admission with a simulated device: what a version's instances take on a device, known before any
// instance exists (nothing uploaded), and the ledger refusing a version over a device's limit. Byte counts by hand
// from the tensor shapes. A binary of its own: registering a device changes where default instances go.
#include <gtest/gtest.h>

#include "common/tiny_graph.h"
#include "server/admission.h"
#include "tests/fakes/sim_device.h"

namespace ferry {
namespace {

const Device* Sim() {
  static const Device* sim = [] {
    testing::SimDeviceOptions o;
    o.id = "sim:0";
    o.capacity_bytes = size_t{64} << 20;
    return testing::RegisterSimDevice(o);
  }();
  return sim;
}

// x [batch, 1024] + c0 [1024] (a weight of 4096 bytes) -> y.
std::shared_ptr<const Model> AddModel() {
  testing::TinyGraphSpec spec;
  spec.op_type = "Add";
  spec.x_shape = {Dim{-1, "batch"}, Dim{1024, ""}};
  spec.y_has_shape = true;
  spec.initializers = {Tensor::FromVector<float>({1024}, std::vector<float>(1024, 1.f))};
  return testing::TinyModel(spec);
}

SchedulerSettings OnGpus(int64_t max_batch_size, int instances) {
  SchedulerSettings s;
  s.batching.max_batch_size = max_batch_size;
  s.instances = {InstanceGroup{"gpu", instances, {}}};
  return s;
}

TEST(DeviceFootprintTest, InstancesOnADeviceCountItsWeightsOnceAndTheirArenasEach) {
  ASSERT_NE(Sim(), nullptr);
  auto model = AddModel();
  ASSERT_NE(model, nullptr);
  const size_t used_before = testing::SimDeviceUsedBytes(*Sim());
  Result<Footprint> f = EstimateFootprint(*model, OnGpus(8, 3), 1);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->devices.count("sim:0"), 1u);
  const DeviceFootprint& d = f->devices.at("sim:0");
  EXPECT_EQ(d.instances, 3);
  EXPECT_EQ(d.weight_bytes, 4096u);
  // On the device: x's copy (8 x 4096 bytes) and y (the same) live at once, plus 64 bytes of alignment slack.
  EXPECT_EQ(d.per_instance_bytes, 2u * 8 * 4096 + 64);
  EXPECT_EQ(d.total_bytes(), 4096u + 3 * (2u * 8 * 4096 + 64));
  EXPECT_NE(f->Describe().find("on sim:0: 200896 bytes (weights 4096 + 3 instances x 65600)"), std::string::npos)
      << f->Describe();
  // An estimate takes no device memory.
  EXPECT_EQ(testing::SimDeviceUsedBytes(*Sim()), used_before);
  // Instances on the CPU have no device part.
  SchedulerSettings cpu = OnGpus(8, 3);
  cpu.instances = {InstanceGroup{"cpu", 3, {}}};
  f = EstimateFootprint(*model, cpu, 1);
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->devices.empty());
}

TEST(DeviceFootprintTest, DefaultLimitKeepsAReserve) {
  ASSERT_NE(Sim(), nullptr);
  // 64 MiB: the reserve is the larger of 1/16 (4 MiB) and 256 MiB, so nothing is left.
  EXPECT_EQ(DefaultDeviceMemoryBytes(*Sim()), 0u);
}

TEST(DeviceAdmissionTest, AVersionOverADevicesLimitIsRefusedNamingTheBytes) {
  ASSERT_NE(Sim(), nullptr);
  auto model = AddModel();
  AdmissionLimits limits;
  limits.device_memory_limits["sim:0"] = 300000;
  auto ledger = AdmissionLedger::Create(limits);
  Result<Footprint> f = EstimateFootprint(*model, OnGpus(8, 3), 1);  // 200896 bytes on sim:0
  ASSERT_TRUE(f.ok());
  auto first = ledger->Reserve("a/1", *f);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(ledger->device_bytes("sim:0"), 200896u);
  auto second = ledger->Reserve("b/1", *f);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(second.status().message(),
            "b/1 needs 200896 bytes of sim:0 memory and the other loaded versions hold 200896 of it: over its "
            "device_memory_limit = 300000 (99104 free)");
  // Once the first goes, the second fits.
  first->Release();
  EXPECT_EQ(ledger->device_bytes("sim:0"), 0u);
  EXPECT_TRUE(ledger->Reserve("b/1", *f).ok());
}

TEST(DeviceAdmissionTest, UnlistedDevicesGetTheDefaultLimit) {
  ASSERT_NE(Sim(), nullptr);
  auto ledger = AdmissionLedger::Create(AdmissionLimits{});
  EXPECT_EQ(ledger->DeviceLimit("sim:0"), DefaultDeviceMemoryBytes(*Sim()));
  Footprint f;
  f.devices["sim:0"] = DeviceFootprint{1, 0, 1};
  auto r = ledger->Reserve("m/1", f);  // 1 byte over a limit of 0
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("over its device_memory_limit = 0 (0 free)"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace ferry
