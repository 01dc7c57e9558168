// The graph layer on a device: weights uploaded once per model and device, constants made while planning,
// plans that do not fit the device's memory, and sessions on a simulated device (empty batches, parallel
// sessions, the plan cache, run-time errors). Expectations are worked out by hand or from the headers.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "backends/cpu_device.h"
#include "backends/device_registry.h"
#include "graph/model.h"
#include "graph/session.h"
#include "tests/fakes/sim_device.h"

namespace ferry {
namespace {

using testing::RegisterSimDevice;
using testing::SimDeviceOptions;
using testing::SimDeviceUsedBytes;

constexpr size_t kMiB = size_t{1} << 20;

const Device* Sim(const std::string& id, size_t capacity = 64 * kMiB, int delay_us = 0) {
  const Device* d = RegisterSimDevice(SimDeviceOptions{id, capacity, nullptr, delay_us});
  EXPECT_NE(d, nullptr) << id;
  return d;
}

// x [B, 64] -> MatMul(W [64, 32] constant) -> y
Result<std::shared_ptr<const Model>> LoadMatMul(const ModelOptions& options, int64_t k, int64_t n) {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  int x = g.AddValue("x");
  g.values[x].dtype = DataType::kFloat;
  g.values[x].has_shape = true;
  g.values[x].shape = {Dim{-1, "batch"}, Dim{k, ""}};
  g.inputs.push_back(x);
  std::vector<float> w(static_cast<size_t>(k * n));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) - 3.f;
  int wv = g.AddValue("w");
  g.values[wv].dtype = DataType::kFloat;
  g.initializers[wv] = Tensor::FromVector<float>({k, n}, w);
  Node mm;
  mm.name = "matmul";
  mm.op_type = "MatMul";
  mm.inputs = {x, wv};
  mm.outputs = {g.AddValue("y")};
  g.nodes.push_back(mm);
  g.outputs.push_back(mm.outputs[0]);
  return Model::FromGraph(std::move(g), OnnxModelInfo{}, options);
}

std::shared_ptr<const Model> MatMulModel(const ModelOptions& options, int64_t k = 64, int64_t n = 32) {
  auto m = LoadMatMul(options, k, n);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

Attributes A(std::initializer_list<std::pair<const char*, AttributeValue>> list) {
  Attributes a;
  for (const auto& [k, v] : list) a.Set(k, v);
  return a;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

TEST(WeightsOnDeviceTest, EachWeightIsUploadedOncePerModelAcrossSessionsAndPlans) {
  const Device* sim = Sim("sim:weights", 64 * kMiB);
  ASSERT_NE(sim, nullptr);
  const size_t base = SimDeviceUsedBytes(*sim);
  const size_t w_bytes = 64 * 32 * sizeof(float);
  {
    ModelOptions mo;
    mo.devices = {sim};
    auto model = MatMulModel(mo);
    ASSERT_NE(model, nullptr);
    // Loading made a trial plan on the device: the weight is there once already.
    EXPECT_EQ(model->WeightsOn(*sim)->bytes(), w_bytes);
    EXPECT_EQ(SimDeviceUsedBytes(*sim), base + RoundUp(w_bytes, 256));

    Session s1(model, SessionOptions{});
    Session s2(model, SessionOptions{});
    const Tensor x1 = Tensor::FromVector<float>({1, 64}, std::vector<float>(64, 1.f));
    const Tensor x8 = Tensor::FromVector<float>({8, 64}, std::vector<float>(8 * 64, 0.5f));
    auto a = s1.Run({x1});
    auto b = s2.Run({x8});
    auto c = s1.Run({x8});  // a second plan in s1
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    // Column j of W sums to sum_i ((i*32 + j) % 7 - 3); check one answer by hand: y[0][0] = sum_i w[i][0].
    float want = 0;
    for (int i = 0; i < 64; ++i) want += static_cast<float>((i * 32) % 7) - 3.f;
    EXPECT_EQ((*a)[0].as<float>()[0], want);
    EXPECT_EQ((*b)[0].as<float>()[0], want * 0.5f);

    auto p1 = s1.PlanFor({x1.view()});
    auto p2 = s2.PlanFor({x8.view()});
    auto p3 = s1.PlanFor({x8.view()});
    ASSERT_TRUE(p1.ok() && p2.ok() && p3.ok());
    ASSERT_EQ((*p1)->weights.count(sim->location()), 1u);
    EXPECT_EQ((*p1)->weights.at(sim->location()), (*p2)->weights.at(sim->location())) << "one store per model";
    EXPECT_EQ((*p1)->weights.at(sim->location()), (*p3)->weights.at(sim->location()));
    EXPECT_EQ((*p1)->weights.at(sim->location())->bytes(), w_bytes);
    EXPECT_TRUE((*p1)->plan_constants.empty());
    EXPECT_EQ((*p1)->weight_bytes(sim->location()), w_bytes);
    EXPECT_EQ((*p1)->weight_bytes(kHostLocation), w_bytes) << "the host copy stays the kernel-independent source";
    // The device holds the weight once, plus each session's arena.
    EXPECT_EQ(SimDeviceUsedBytes(*sim), base + RoundUp(w_bytes, 256) + RoundUp(s1.arena_bytes(sim->location()), 256) +
                                            RoundUp(s2.arena_bytes(sim->location()), 256));

    // A second model of the same graph has its own copy.
    auto other = MatMulModel(mo);
    ASSERT_NE(other, nullptr);
    EXPECT_NE(other->WeightsOn(*sim), model->WeightsOn(*sim));
    EXPECT_EQ(other->WeightsOn(*sim)->bytes(), w_bytes);
  }
  EXPECT_EQ(SimDeviceUsedBytes(*sim), base) << "every weight and arena goes back with its model and sessions";
}

TEST(WeightsOnDeviceTest, ADeviceTooSmallForTheWeightsFailsPlanningCleanly) {
  const Device* tiny = Sim("sim:tiny", 4096);
  ASSERT_NE(tiny, nullptr);
  {
    auto model = MatMulModel(ModelOptions{}, 128, 64);  // a 32 KiB weight
    ASSERT_NE(model, nullptr);
    SessionOptions o;
    o.devices = {tiny};
    Session session(model, o);
    const Tensor x = Tensor::FromVector<float>({2, 128}, std::vector<float>(256, 1.f));
    auto plan = session.PlanFor({x.view()});
    EXPECT_EQ(plan.status().code(), StatusCode::kResourceExhausted) << plan.status().ToString();
    auto run = session.Run({x});
    EXPECT_EQ(run.status().code(), StatusCode::kResourceExhausted) << run.status().ToString();
    EXPECT_EQ(SimDeviceUsedBytes(*tiny), 0u) << "a failed plan leaves nothing on the device";
  }
  // Preferred at load: the trial plan cannot upload the weight, and loading says so.
  ModelOptions mo;
  mo.devices = {tiny};
  auto loaded = LoadMatMul(mo, 128, 64);
  EXPECT_EQ(loaded.status().code(), StatusCode::kResourceExhausted) << loaded.status().ToString();
  EXPECT_EQ(SimDeviceUsedBytes(*tiny), 0u);
}

TEST(WeightsOnDeviceTest, ADeviceTooSmallForTheArenaFailsTheRunCleanly) {
  const Device* small = Sim("sim:small-arena", 16 * 1024);
  ASSERT_NE(small, nullptr);
  auto model = MatMulModel(ModelOptions{}, 16, 8);  // a 512-byte weight fits
  ASSERT_NE(model, nullptr);
  SessionOptions o;
  o.devices = {small};
  Session session(model, o);
  const Tensor big = Tensor::FromVector<float>({1024, 16}, std::vector<float>(1024 * 16, 1.f));  // 64 KiB in
  auto run = session.Run({big});
  EXPECT_EQ(run.status().code(), StatusCode::kResourceExhausted) << run.status().ToString();
  // A batch that fits still runs on the same session.
  const Tensor one = Tensor::FromVector<float>({1, 16}, std::vector<float>(16, 1.f));
  auto ok = session.Run({one});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].shape(), (Shape{1, 8}));
}

// One-input chains for session-level checks: x -> op0 -> op1 -> ... -> y, all float (Gather/Cast named below).
struct Chain {
  Graph g;
  explicit Chain(std::vector<Dim> x_shape) {
    g.opset = 13;
    g.opsets[""] = 13;
    const int x = g.AddValue("x");
    g.values[x].dtype = DataType::kFloat;
    g.values[x].has_shape = true;
    g.values[x].shape = std::move(x_shape);
    g.inputs.push_back(x);
    last = x;
  }
  int Then(const std::string& op, std::vector<int> extra = {}, Attributes attrs = {}) {
    Node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.attrs = std::move(attrs);
    n.inputs = {last};
    for (int v : extra) n.inputs.push_back(v);
    last = g.AddValue("v" + std::to_string(g.nodes.size()));
    n.outputs = {last};
    g.nodes.push_back(std::move(n));
    return last;
  }
  int Input(const std::string& name, DataType t, std::vector<Dim> shape) {
    const int v = g.AddValue(name);
    g.values[v].dtype = t;
    g.values[v].has_shape = true;
    g.values[v].shape = std::move(shape);
    g.inputs.push_back(v);
    return v;
  }
  std::shared_ptr<const Model> Load() {
    g.outputs = {last};
    ModelOptions o;
    o.optimize = false;
    auto m = Model::FromGraph(g, OnnxModelInfo{}, o);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : nullptr;
  }
  int last = -1;
};

TEST(SessionOnDeviceTest, EmptyBatchesRunOnTheDevice) {
  const Device* sim = Sim("sim:empty", 64 * kMiB, 1000);
  ASSERT_NE(sim, nullptr);
  Chain c({Dim{-1, "batch"}, Dim{7, ""}});
  c.Then("Relu");
  c.Then("Exp");
  auto model = c.Load();
  ASSERT_NE(model, nullptr);
  SessionOptions o;
  o.devices = {sim};
  Session session(model, o);
  auto empty = session.Run({Tensor::Allocate(DataType::kFloat, {0, 7}).value()});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ((*empty)[0].shape(), (Shape{0, 7}));
  auto one = session.Run({Tensor::FromVector<float>({1, 7}, std::vector<float>(7, 0.f))});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ((*one)[0].as<float>()[3], 1.f);  // exp(relu(0))
}

TEST(SessionOnDeviceTest, SessionsOnOneDeviceRunInParallel) {
  const Device* sim = Sim("sim:parallel", 256 * kMiB, 200);
  ASSERT_NE(sim, nullptr);
  ModelOptions mo;
  mo.devices = {sim};
  auto model = MatMulModel(mo);
  ASSERT_NE(model, nullptr);
  const Tensor x = Tensor::FromVector<float>({4, 64}, std::vector<float>(4 * 64, 1.f));
  Session reference(model, SessionOptions{.devices = {&CpuDevice()}});
  auto want = reference.Run({x});
  ASSERT_TRUE(want.ok());
  std::vector<std::thread> workers;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      Session s(model, SessionOptions{});
      for (int i = 0; i < 20; ++i) {
        auto got = s.Run({x});
        if (!got.ok() || std::memcmp((*got)[0].data(), (*want)[0].data(), (*want)[0].nbytes()) != 0) ++mismatches[t];
      }
    });
  }
  for (auto& w : workers) w.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "worker " << t;
  EXPECT_EQ(model->WeightsOn(*sim)->bytes(), 64u * 32 * sizeof(float)) << "four sessions, one upload";
}

// A device kernel fails at run time (a bad index); the host step after it reads its (poisoned) output through a
// waited copy. The run must fail, and the error should name the device kernel's cause.
TEST(SessionOnDeviceTest, ADeviceKernelsErrorIsTheRunsError) {
  const Device* sim = RegisterSimDevice(
      SimDeviceOptions{"sim:gather-only", 64 * kMiB, [](const std::string& op) { return op == "Gather"; }, 1000});
  ASSERT_NE(sim, nullptr);
  Chain c({Dim{5, ""}});
  const int idx = c.Input("i", DataType::kInt64, {Dim{3, ""}});
  c.Then("Gather", {idx});                      // on the device
  c.Then("Cast", {}, A({{"to", int64_t{7}}}));  // on the CPU: floats -> int64 indices
  // y = GatherElements(x, Cast(Gather(x, i))), on the CPU: it reads indices the device made.
  Node n;
  n.name = "gather_elements";
  n.op_type = "GatherElements";
  n.inputs = {c.g.inputs[0], c.last};
  c.last = c.g.AddValue("y");
  n.outputs = {c.last};
  c.g.nodes.push_back(n);
  auto model = c.Load();
  ASSERT_NE(model, nullptr);
  SessionOptions o;
  o.devices = {sim};
  Session session(model, o);
  const Tensor x = Tensor::FromVector<float>({5}, {0, 1, 2, 3, 4});
  auto good = session.Run(std::vector<Tensor>{x, Tensor::FromVector<int64_t>({3}, {4, 0, 2})});
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ((*good)[0].as<float>()[0], 4.f);
  auto bad = session.Run(std::vector<Tensor>{x, Tensor::FromVector<int64_t>({3}, {4, 99, 2})});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("99"), std::string::npos)
      << "the first failure (index 99 in the first Gather) should be the one reported; got: "
      << bad.status().ToString();
}

TEST(SessionOnDeviceTest, ManyPlansAndReserveKeepDeviceMemoryBounded) {
  const Device* sim = Sim("sim:plans", 64 * kMiB);
  ASSERT_NE(sim, nullptr);
  const size_t base = SimDeviceUsedBytes(*sim);
  {
    Chain c({Dim{-1, "batch"}, Dim{16, ""}});
    c.Then("Sigmoid");
    c.Then("Neg");
    auto model = c.Load();
    ASSERT_NE(model, nullptr);
    SessionOptions o;
    o.devices = {sim};
    Session session(model, o);
    ASSERT_TRUE(session.Reserve({TensorView{DataType::kFloat, {256, 16}}}).ok());
    const size_t reserved = SimDeviceUsedBytes(*sim) - base;
    EXPECT_EQ(reserved, RoundUp(session.arena_bytes(sim->location()), 256));
    EXPECT_GE(session.arena_bytes(sim->location()), 2 * 256 * 16 * sizeof(float)) << "x and one value at least";
    // More shapes than a session keeps plans for; every run below the reserved size allocates nothing new.
    for (int64_t b = 1; b <= static_cast<int64_t>(Session::kMaxPlans) + 8; ++b) {
      const Tensor x = Tensor::FromVector<float>({b, 16}, std::vector<float>(static_cast<size_t>(b) * 16, 0.f));
      auto y = session.Run({x});
      ASSERT_TRUE(y.ok()) << y.status().ToString();
      EXPECT_EQ((*y)[0].as<float>()[static_cast<size_t>(b) * 16 - 1], -0.5f) << "batch " << b;
    }
    EXPECT_EQ(SimDeviceUsedBytes(*sim) - base, reserved);
  }
  EXPECT_EQ(SimDeviceUsedBytes(*sim), base);
}

// y = x + Cast(Shape(x)): Shape and Cast are computed while planning, so the Add on the device reads a constant
// made for this plan alone (uploaded per plan, not into the model's weight store), and it changes with the batch.
TEST(SessionOnDeviceTest, ConstantsMadeWhilePlanningAreUploadedPerPlan) {
  const Device* sim = Sim("sim:plan-constants", 64 * kMiB, 500);
  ASSERT_NE(sim, nullptr);
  const size_t base = SimDeviceUsedBytes(*sim);
  {
    Chain c({Dim{-1, "batch"}, Dim{2, ""}});
    const int x = c.last;
    c.Then("Shape");
    c.Then("Cast", {}, A({{"to", int64_t{1}}}));
    const int shape = c.last;
    c.last = x;
    c.Then("Add", {shape});
    auto model = c.Load();
    ASSERT_NE(model, nullptr);
    SessionOptions o;
    o.devices = {sim};
    Session session(model, o);
    for (int64_t batch : {2, 5, 2}) {
      const Tensor in = Tensor::FromVector<float>({batch, 2}, std::vector<float>(static_cast<size_t>(batch) * 2, 1.f));
      auto y = session.Run({in});
      ASSERT_TRUE(y.ok()) << y.status().ToString();
      for (int64_t i = 0; i < batch; ++i) {
        EXPECT_EQ((*y)[0].as<float>()[i * 2 + 0], 1.f + static_cast<float>(batch)) << "batch " << batch;
        EXPECT_EQ((*y)[0].as<float>()[i * 2 + 1], 3.f) << "batch " << batch;
      }
      auto plan = session.PlanFor({in.view()});
      ASSERT_TRUE(plan.ok());
      EXPECT_EQ((*plan)->folded_nodes, 2);
      ASSERT_EQ((*plan)->plan_constants.size(), 1u);
      EXPECT_EQ((*plan)->plan_constants[0].size(), 2 * sizeof(float));
      EXPECT_EQ((*plan)->plan_constants[0].location(), sim->location());
      EXPECT_EQ(model->WeightsOn(*sim)->bytes(), 0u) << "the model has no initializers";
    }
  }
  EXPECT_EQ(SimDeviceUsedBytes(*sim), base);
}

// A device that was never registered (location -1; e.g. a backend that kept its device after Register refused a
// duplicate id) in a preference list. Expected: a clean error. Today Session::Bind dereferences
// DeviceRegistry::Get(-1) == nullptr and the process dies with SIGSEGV (reported; enable once fixed).
TEST(SessionOnDeviceTest, AnUnregisteredDeviceIsRefusedNotACrash) {
  std::shared_ptr<Device> stray = MakeCpuDevice();  // runs every op; never registered
  ASSERT_EQ(stray->location(), -1);
  Chain c({Dim{4, ""}});
  c.Then("Relu");
  auto model = c.Load();
  ASSERT_NE(model, nullptr);
  SessionOptions o;
  o.devices = {stray.get()};
  Session session(model, o);
  auto y = session.Run({Tensor::FromVector<float>({4}, {1, -2, 3, -4})});
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument) << y.status().ToString();
}
// x [n] float, indices [k] int64 -> Gather -> y: a kernel whose failure shows only when it runs (a bad index).
std::shared_ptr<const Model> GatherModel() {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  int x = g.AddValue("x");
  g.values[x].dtype = DataType::kFloat;
  g.values[x].has_shape = true;
  g.values[x].shape = {Dim{5, ""}};
  int i = g.AddValue("i");
  g.values[i].dtype = DataType::kInt64;
  g.values[i].has_shape = true;
  g.values[i].shape = {Dim{3, ""}};
  g.inputs = {x, i};
  Node n;
  n.name = "gather";
  n.op_type = "Gather";
  n.inputs = {x, i};
  n.outputs = {g.AddValue("y")};
  g.nodes.push_back(n);
  g.outputs = {n.outputs[0]};
  auto m = Model::FromGraph(std::move(g), OnnxModelInfo{});
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

TEST(SessionOnDeviceTest, AQueuedKernelsErrorFailsTheRunAndTheNextRunRecovers) {
  const Device* sim = Sim("sim:session-errors", 64 * kMiB, /*delay_us=*/1000);
  ASSERT_NE(sim, nullptr);
  auto model = GatherModel();
  ASSERT_NE(model, nullptr);
  SessionOptions o;
  o.devices = {sim};
  Session session(model, o);
  const Tensor x = Tensor::FromVector<float>({5}, {10, 11, 12, 13, 14});
  auto bad = session.Run(std::vector<Tensor>{x, Tensor::FromVector<int64_t>({3}, {0, 9, 1})});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
  auto good = session.Run(std::vector<Tensor>{x, Tensor::FromVector<int64_t>({3}, {4, -5, 2})});
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ((*good)[0].as<float>()[0], 14.f);
  EXPECT_EQ((*good)[0].as<float>()[1], 10.f);
  EXPECT_EQ((*good)[0].as<float>()[2], 12.f);
  auto plan = session.PlanFor({x.view(), TensorView{DataType::kInt64, {3}}});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ((*plan)->steps.size(), 4u) << "two copies in, the kernel, one copy out";
  EXPECT_EQ((*plan)->copies, 3);
}

// One value named twice among the outputs, beside an input that is an output too: each output gets its own copy
// back from the device.
TEST(SessionOnDeviceTest, AValueTwiceAmongTheOutputs) {
  const Device* sim = Sim("sim:outputs", 64 * kMiB, 500);
  ASSERT_NE(sim, nullptr);
  Chain c({Dim{-1, "batch"}, Dim{3, ""}});
  const int x = c.last;
  c.Then("Relu");
  const int y = c.last;
  c.g.outputs = {y, x, y};
  ModelOptions mo;
  mo.optimize = false;
  auto model = Model::FromGraph(c.g, OnnxModelInfo{}, mo);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  SessionOptions o;
  o.devices = {sim};
  Session session(*model, o);
  for (int round = 0; round < 2; ++round) {
    auto out = session.Run({Tensor::FromVector<float>({2, 3}, {-1, 2, -3, 4, -5, 6})});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), 3u);
    const std::vector<float> relu = {0, 2, 0, 4, 0, 6}, in = {-1, 2, -3, 4, -5, 6};
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ((*out)[0].as<float>()[i], relu[i]);
      EXPECT_EQ((*out)[1].as<float>()[i], in[i]);
      EXPECT_EQ((*out)[2].as<float>()[i], relu[i]);
    }
    EXPECT_NE((*out)[0].data(), (*out)[2].data()) << "two outputs, two tensors";
  }
}

}  // namespace
}  // namespace ferry
