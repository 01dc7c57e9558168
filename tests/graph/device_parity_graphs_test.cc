// Device parity on multi-node graphs: chains split between the CPU and one or two simulated devices, so values
// cross many times, with the CPU's answer as the expected one (see device_parity_test.cc for the single ops).
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>

#include "graph/model.h"
#include "graph/session.h"
#include "tests/graph/device_parity.h"

namespace ferry::parity {
namespace {

// Multi-node graphs: chains where values cross between the CPU and one or two devices many times, views
// (Reshape) across devices, a value read on both sides, and a graph output that is also read further on.
struct GraphBuilder {
  Graph g;
  GraphBuilder() {
    g.opset = 13;
    g.opsets[""] = 13;
  }
  void Input(const std::string& name, Shape shape) {
    const int v = g.AddValue(name);
    g.values[v].dtype = DataType::kFloat;
    g.values[v].has_shape = true;
    for (int64_t d : shape) g.values[v].shape.push_back(d < 0 ? Dim{-1, "batch"} : Dim{d, ""});
    g.inputs.push_back(v);
  }
  void Init(const std::string& name, Tensor t) {
    const int v = g.AddValue(name);
    g.values[v].dtype = t.dtype();
    g.initializers[v] = std::move(t);
  }
  void Add(const std::string& op, std::vector<std::string> in, std::vector<std::string> out, Attributes attrs = {}) {
    Node n;
    n.name = op + "_" + out[0];
    n.op_type = op;
    n.attrs = std::move(attrs);
    for (const std::string& s : in) n.inputs.push_back(g.AddValue(s));
    for (const std::string& s : out) n.outputs.push_back(g.AddValue(s));
    g.nodes.push_back(std::move(n));
  }
  void Output(const std::string& name) { g.outputs.push_back(g.FindValue(name)); }
};

Tensor Ramp(Shape shape, float scale) {
  Tensor t = Tensor::Allocate(DataType::kFloat, shape).value();
  for (int64_t i = 0; i < t.numel(); ++i)
    t.as<float>()[i] = static_cast<float>(static_cast<int>(i * 7 % 13) - 6) * scale;
  return t;
}

struct MultiCase {
  std::string name;
  std::function<Graph()> build;
  std::vector<Shape> inputs;  // -1: the batch
  bool optimize = true;
  double tolerance = 0;  // as Case::tolerance
};

std::vector<MultiCase> MultiCases() {
  std::vector<MultiCase> m;
  m.push_back({"Mlp",
               [] {
                 GraphBuilder b;
                 b.Input("x", {-1, 17});
                 b.Init("w", Ramp({17, 7}, 0.1f));
                 b.Init("bias", Ramp({7}, 0.2f));
                 b.Add("MatMul", {"x", "w"}, {"h"});
                 b.Add("Add", {"h", "bias"}, {"a"});
                 b.Add("Relu", {"a"}, {"r"});
                 b.Add("Softmax", {"r"}, {"y"});
                 b.Output("y");
                 return b.g;
               },
               {{-1, 17}}});
  m.push_back({"ConvNet",
               [] {
                 GraphBuilder b;
                 b.Input("x", {-1, 3, 9, 9});
                 b.Init("w", Ramp({4, 3, 3, 3}, 0.05f));
                 b.Init("b", Ramp({4}, 0.1f));
                 b.Init("fc", Ramp({36, 5}, 0.02f));  // [4, 3, 3] pooled
                 b.Add("Conv", {"x", "w", "b"}, {"c"});
                 b.Add("Relu", {"c"}, {"r"});
                 b.Add("MaxPool", {"r"}, {"p"},
                       A({{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}}));
                 b.Add("Flatten", {"p"}, {"f"});
                 b.Add("Gemm", {"f", "fc"}, {"y"});
                 b.Output("y");
                 b.Output("r");  // an intermediate that is also an output
                 return b.g;
               },
               {{-1, 3, 9, 9}},
               true,
               0});
  m.push_back({"ViewsAcrossDevices",
               [] {
                 GraphBuilder b;
                 b.Input("x", {-1, 12});
                 b.Init("s1", I64s({0, 3, 4}));
                 b.Init("s2", I64s({0, 12}));
                 b.Add("Neg", {"x"}, {"a"});
                 b.Add("Reshape", {"a", "s1"}, {"r"});
                 b.Add("Sigmoid", {"r"}, {"s"});
                 b.Add("Reshape", {"s", "s2"}, {"t"});
                 b.Add("Add", {"t", "a"}, {"y"});
                 b.Output("y");
                 return b.g;
               },
               {{-1, 12}},
               false});
  m.push_back({"FanOutAndOutputsReadFurther",
               [] {
                 GraphBuilder b;
                 b.Input("x", {-1, 7});
                 b.Input("z", {7});
                 b.Add("Exp", {"x"}, {"e"});
                 b.Add("Neg", {"e"}, {"f"});
                 b.Add("Transpose", {"e"}, {"et"});
                 b.Add("Transpose", {"et"}, {"g"});
                 b.Add("Mul", {"f", "g"}, {"h"});
                 b.Add("Add", {"h", "z"}, {"y"});
                 b.Add("Concat", {"y", "e", "x"}, {"cat"}, A({{"axis", int64_t{1}}}));
                 b.Output("y");
                 b.Output("e");
                 b.Output("cat");
                 b.Output("x");  // an input that is also an output
                 return b.g;
               },
               {{-1, 7}, {7}},
               false});
  // With arithmetic on the device: the copy of `a` to the device is queued (and delayed) when the CPU goes on to
  // write `b`, which the memory planner could place in a's bytes if a's life ended at the copy's queueing.
  m.push_back({"HostMemoryReadByTheDeviceLater",
               [] {
                 GraphBuilder b;
                 b.Input("x", {-1, 16});
                 b.Input("z", {-1, 16});
                 b.Add("Transpose", {"x"}, {"a"});
                 b.Add("Exp", {"a"}, {"e"});
                 b.Add("Transpose", {"z"}, {"b"});
                 b.Add("Transpose", {"b"}, {"c"});
                 b.Output("e");
                 b.Output("c");
                 return b.g;
               },
               {{-1, 16}, {-1, 16}},
               false});
  return m;
}

bool Arithmetic(const std::string& op) {
  static const std::set<std::string> ops = {"Add", "Mul", "Neg", "Exp", "Relu", "Sigmoid", "Softmax", "Abs"};
  return ops.count(op) != 0;
}

void PrintTo(const MultiCase& c, std::ostream* os) { *os << c.name; }

class MultiNodeParity : public ::testing::TestWithParam<MultiCase> {};

TEST_P(MultiNodeParity, SplitsAcrossDevicesGiveTheCpuAnswer) {
  const MultiCase& mc = GetParam();
  static const Device* arith =
      RegisterSimDevice(SimDeviceOptions{"sim:parity-arith", size_t{1} << 30, Arithmetic, 100});
  static const Device* structural = RegisterSimDevice(SimDeviceOptions{
      "sim:parity-structural", size_t{1} << 30, [](const std::string& op) { return !Arithmetic(op); }, 100});
  ModelOptions mo;
  mo.optimize = mc.optimize;
  auto model = Model::FromGraph(mc.build(), OnnxModelInfo{}, mo);
  ASSERT_TRUE(model.ok()) << model.status().ToString();

  struct Mode {
    const char* name;
    std::vector<const Device*> devices;
  };
  const std::vector<Mode> modes = {{"all on sim (delayed)", {SimDevices().all_slow}},
                                   {"arithmetic on sim", {arith}},
                                   {"structure on sim", {structural}},
                                   {"two devices", {arith, structural}}};
  Session cpu(*model, SessionOptions{});
  std::vector<std::unique_ptr<Session>> sessions;
  for (const Mode& m : modes) {
    SessionOptions o;
    o.devices = m.devices;
    sessions.push_back(std::make_unique<Session>(*model, o));
  }
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>()(mc.name)));
  for (int64_t batch : {64, 1, 17}) {
    std::vector<Tensor> inputs;
    for (Shape shape : mc.inputs) {
      if (shape[0] < 0) shape[0] = batch;
      inputs.push_back(RandomTensor(F(shape), shape, rng));
    }
    auto want = cpu.Run(inputs);
    ASSERT_TRUE(want.ok()) << want.status().ToString();
    for (size_t i = 0; i < modes.size(); ++i) {
      const std::string what = mc.name + " at batch " + std::to_string(batch) + ", " + modes[i].name;
      auto got = sessions[i]->Run(inputs);
      ASSERT_TRUE(got.ok()) << what << ": " << got.status().ToString();
      for (size_t k = 0; k < got->size(); ++k)
        ExpectSame((*want)[k], (*got)[k], what + ", output " + std::to_string(k), mc.tolerance);
      auto plan = sessions[i]->PlanFor(Views(inputs));
      ASSERT_TRUE(plan.ok());
      std::map<Location, int> steps;
      for (const PlanStep& s : (*plan)->steps)
        if (s.kind == PlanStep::Kind::kKernel) ++steps[s.location];
      for (const Device* d : modes[i].devices) EXPECT_GT(steps[d->location()], 0) << what << ": nothing on " << d->id();
      if (modes[i].devices.size() == 1 && modes[i].devices[0] != SimDevices().all_slow) {
        EXPECT_GT(steps[kHostLocation], 0) << what << ": a split puts some steps on the CPU";
        EXPECT_GE((*plan)->copies, 2) << what;
      }
      if (modes[i].devices.size() == 2) {
        EXPECT_EQ(steps[kHostLocation], 0) << what << ": the two devices run every op between them";
        EXPECT_GE((*plan)->copies, 3) << what;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Graphs, MultiNodeParity, ::testing::ValuesIn(MultiCases()),
                         [](const ::testing::TestParamInfo<MultiCase>& info) { return info.param.name; });

}  // namespace
}  // namespace ferry::parity
