// Footprints and the admission ledger, with byte counts computed by hand from the tensor shapes.
#include "server/admission.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>

#include "common/tiny_graph.h"

namespace ferry {
namespace {

// x [batch, 1024] float -> Relu -> y (the graph output): no weights, no intermediates, one output of
// batch * 1024 * 4 bytes per batch; Session::Reserve adds 64 bytes of alignment slack.
std::shared_ptr<const Model> ReluModel() {
  testing::TinyGraphSpec spec;
  spec.x_shape = {Dim{-1, "batch"}, Dim{1024, ""}};
  spec.y_has_shape = true;
  return testing::TinyModel(spec);
}

SchedulerSettings Settings(int64_t max_batch_size, int instances) {
  SchedulerSettings s;
  s.batching.max_batch_size = max_batch_size;
  s.instances = {InstanceGroup{"cpu", instances, {}}};
  return s;
}

TEST(FootprintTest, PlansTheLargestBatchOncePerInstance) {
  auto model = ReluModel();
  ASSERT_NE(model, nullptr);
  Result<Footprint> f = EstimateFootprint(*model, Settings(8, 3), 1);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->weight_bytes, 0u);
  EXPECT_EQ(f->batch, 8);
  EXPECT_EQ(f->instances, 3);
  EXPECT_EQ(f->per_instance_bytes, 8u * 1024 * 4 + 64);
  EXPECT_EQ(f->total_bytes(), 3u * (8 * 1024 * 4 + 64));
  EXPECT_EQ(f->Describe(), "98496 bytes (weights 0 + 3 instances x 32832 planned for batch 8)");
  // max_batch_size 0 (no batching) plans one row.
  f = EstimateFootprint(*model, Settings(0, 1), 1);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->batch, 1);
  EXPECT_EQ(f->per_instance_bytes, 1024u * 4 + 64);
}

// max_batch_size is not bounded by the config parser: a batch whose tensors' byte sizes overflow needs more than
// any limit, instead of a wrapped-around small number.
TEST(FootprintTest, OverflowingBatchNeedsEverything) {
  auto model = ReluModel();
  ASSERT_NE(model, nullptr);
  Result<Footprint> f = EstimateFootprint(*model, Settings(int64_t{1} << 61, 1), 1);  // 2^61 x 1024 x 4 bytes
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->per_instance_bytes, UINT64_MAX);
  AdmissionLimits limits;
  limits.max_model_memory_bytes = UINT64_MAX - 1;
  EXPECT_EQ(CheckVersionMemory("m/1", *f, limits).code(), StatusCode::kResourceExhausted);
}

TEST(FootprintTest, CountsWeights) {
  testing::TinyGraphSpec spec;
  spec.op_type = "Add";
  spec.x_shape = {Dim{-1, "batch"}, Dim{1024, ""}};
  spec.y_has_shape = true;
  spec.initializers = {*Tensor::Allocate(DataType::kFloat, {1024})};
  auto model = testing::TinyModel(spec);
  ASSERT_NE(model, nullptr);
  Result<Footprint> f = EstimateFootprint(*model, Settings(2, 2), 1);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->weight_bytes, 4096u);
  EXPECT_EQ(f->total_bytes(), 4096u + 2 * (2 * 4096 + 64));
}

TEST(FootprintTest, TotalSaturates) {
  Footprint f;
  f.weight_bytes = 10;
  f.instances = 256;
  f.per_instance_bytes = UINT64_MAX / 16;
  EXPECT_EQ(f.total_bytes(), UINT64_MAX);
}

TEST(FootprintTest, VersionLimitNamesTheKeyAndTheNumbers) {
  Footprint f;
  f.weight_bytes = 100;
  f.instances = 2;
  f.per_instance_bytes = 450;
  f.batch = 4;
  AdmissionLimits limits;
  limits.max_model_memory_bytes = 1000;
  EXPECT_TRUE(CheckVersionMemory("m/1", f, limits).ok());  // 1000: the limit is inclusive
  f.per_instance_bytes = 451;
  Status s = CheckVersionMemory("m/1", f, limits);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(),
            "m/1 needs 1002 bytes (weights 100 + 2 instances x 451 planned for batch 4), over "
            "max_model_memory_bytes = 1000");
}

Footprint Fp(int64_t instances, uint64_t per_instance) {
  Footprint f;
  f.instances = instances;
  f.per_instance_bytes = per_instance;
  f.batch = 1;
  return f;
}

TEST(AdmissionLedgerTest, InstancesAcrossVersions) {
  AdmissionLimits limits;
  limits.max_total_instances = 5;
  limits.max_server_memory_bytes = UINT64_MAX;
  auto ledger = AdmissionLedger::Create(limits);
  auto a = ledger->Reserve("a/1", Fp(3, 0));
  ASSERT_TRUE(a.ok());
  auto b = ledger->Reserve("b/1", Fp(3, 0));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(b.status().message(),
            "b/1 would run 6 instances in all, over max_total_instances = 5 (the other loaded versions run 3, this "
            "asks for 3)");
  EXPECT_EQ(ledger->total_instances(), 3);
  ASSERT_TRUE(ledger->Reserve("b/1", Fp(2, 0)).ok());  // the temporary is released at once
  EXPECT_EQ(ledger->total_instances(), 3);
  a->Release();
  EXPECT_EQ(ledger->total_instances(), 0);
  auto c = ledger->Reserve("c/1", Fp(5, 0));
  EXPECT_TRUE(c.ok());
}

TEST(AdmissionLedgerTest, ServerMemoryAndReleaseWithTheOwner) {
  AdmissionLimits limits;
  limits.max_server_memory_bytes = 1000;
  auto ledger = AdmissionLedger::Create(limits);
  EXPECT_EQ(ledger->limits().max_server_memory_bytes, 1000u);
  std::optional<AdmissionLedger::Reservation> a;
  {
    auto r = ledger->Reserve("a/1", Fp(2, 300));
    ASSERT_TRUE(r.ok());
    a = std::move(*r);
  }
  EXPECT_EQ(ledger->total_bytes(), 600u);
  auto b = ledger->Reserve("b/1", Fp(1, 401));
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(),
            "b/1 needs 401 bytes and the other loaded versions hold 600: over max_server_memory_bytes = 1000");
  EXPECT_TRUE(ledger->Reserve("b/1", Fp(1, 400)).ok());
  a.reset();  // the owner goes: its bytes are free
  EXPECT_EQ(ledger->total_bytes(), 0u);
}

TEST(AdmissionLedgerTest, DryRunAndResizeReplaceTheOwnersFootprint) {
  AdmissionLimits limits;
  limits.max_total_instances = 4;
  limits.max_server_memory_bytes = UINT64_MAX;
  auto ledger = AdmissionLedger::Create(limits);
  auto a = ledger->Reserve("a/1", Fp(2, 0));
  auto b = ledger->Reserve("b/1", Fp(1, 0));
  ASSERT_TRUE(a.ok() && b.ok());
  int owner_a = 0, owner_b = 0;
  ledger->Bind(a->id(), &owner_a, nullptr);
  ledger->Bind(b->id(), &owner_b, nullptr);
  EXPECT_EQ(ledger->Find(&owner_a)->what, "a/1");
  EXPECT_EQ(ledger->Find(&owner_b)->footprint.instances, 1);
  int nobody = 0;
  EXPECT_EQ(ledger->Find(&nobody).status().code(), StatusCode::kNotFound);
  // a from 2 to 3 instances fits (3 + 1); to 4 does not, and nothing changes.
  EXPECT_TRUE(ledger->CheckChange({{&owner_a, Fp(3, 0)}}).ok());
  Status s = ledger->CheckChange({{&owner_a, Fp(4, 0)}});
  EXPECT_EQ(s.message(),
            "a/1 would run 5 instances in all, over max_total_instances = 4 (the other loaded versions run 1, this "
            "asks for 4)");
  EXPECT_EQ(ledger->total_instances(), 3);
  // Both changed at once: 3 + 1 fits.
  EXPECT_TRUE(ledger->CheckChange({{&owner_a, Fp(3, 0)}, {&owner_b, Fp(1, 0)}}).ok());
  EXPECT_FALSE(ledger->Resize(&owner_a, Fp(4, 0)).ok());
  EXPECT_EQ(ledger->total_instances(), 3);
  EXPECT_TRUE(ledger->Resize(&owner_a, Fp(3, 0)).ok());
  EXPECT_EQ(ledger->total_instances(), 4);
}

TEST(AdmissionLedgerTest, DefaultServerMemoryIsBelowThePhysicalMemory) {
  AdmissionLimits limits;  // max_server_memory_bytes 0: the default
  auto ledger = AdmissionLedger::Create(limits);
  const uint64_t physical = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  EXPECT_GT(ledger->limits().max_server_memory_bytes, 0u);
  EXPECT_LE(ledger->limits().max_server_memory_bytes, physical / 4 * 3);
}

}  // namespace
}  // namespace ferry
