// Graph rewrites, plans and sessions, checked on small graphs whose answers are worked out by hand.
#include "graph/model.h"

#include <gtest/gtest.h>

#include "graph/session.h"

namespace ferry {
namespace {

void AddInput(Graph& g, const std::string& name, DataType t, std::vector<Dim> dims) {
  int v = g.AddValue(name);
  g.values[v].dtype = t;
  g.values[v].has_shape = true;
  g.values[v].shape = std::move(dims);
  g.inputs.push_back(v);
}

void AddInit(Graph& g, const std::string& name, Tensor t) {
  int v = g.AddValue(name);
  g.values[v].dtype = t.dtype();
  g.initializers[v] = std::move(t);
}

Node MakeNode(Graph& g, const std::string& op, std::vector<std::string> in, std::vector<std::string> out) {
  Node n;
  n.name = op + "_" + out[0];
  n.op_type = op;
  for (auto& s : in) n.inputs.push_back(g.AddValue(s));
  for (auto& s : out) n.outputs.push_back(g.AddValue(s));
  return n;
}

// x [1,1,1,3] -> Conv 1x1 (w=2) -> BatchNorm (scale 3, bias 1, mean 0.5, var 3, eps 1) -> Relu -> y
Graph ConvBnRelu() {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  AddInput(g, "x", DataType::kFloat, {Dim{1, ""}, Dim{1, ""}, Dim{1, ""}, Dim{3, ""}});
  AddInit(g, "w", Tensor::FromVector<float>({1, 1, 1, 1}, {2.f}));
  AddInit(g, "scale", Tensor::FromVector<float>({1}, {3.f}));
  AddInit(g, "bias", Tensor::FromVector<float>({1}, {1.f}));
  AddInit(g, "mean", Tensor::FromVector<float>({1}, {0.5f}));
  AddInit(g, "var", Tensor::FromVector<float>({1}, {3.f}));
  g.nodes.push_back(MakeNode(g, "Conv", {"x", "w"}, {"c"}));
  Node bn = MakeNode(g, "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"b"});
  bn.attrs.Set("epsilon", 1.f);
  g.nodes.push_back(bn);
  g.nodes.push_back(MakeNode(g, "Relu", {"b"}, {"y"}));
  for (const char* v : {"c", "b", "y"}) g.values[g.FindValue(v)].dtype = DataType::kFloat;
  g.outputs.push_back(g.FindValue("y"));
  return g;
}

TEST(ModelTest, ConvBatchNormReluFuseIntoOneNodeWithTheSameAnswer) {
  auto model = Model::FromGraph(ConvBnRelu(), OnnxModelInfo{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->graph().nodes.size(), 1u);
  EXPECT_EQ((*model)->optimizer_stats().fused_nodes, 2);
  EXPECT_EQ((*model)->graph().nodes[0].activation.kind, ActivationKind::kRelu);
  Session session(*model, SessionOptions{});
  auto out = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({1, 1, 1, 3}, {-1.f, 0.5f, 2.f})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // conv: [-2, 1, 4]; bn: (y - 0.5) * 3 / sqrt(3 + 1) + 1 = [-2.75, 1.75, 6.25]; relu: [0, 1.75, 6.25].
  const float want[] = {0.f, 1.75f, 6.25f};
  for (int i = 0; i < 3; ++i) EXPECT_NEAR((*out)[0].as<float>()[i], want[i], 1e-6);
}

TEST(ModelTest, UnfusedGraphGivesTheSameHandComputedAnswer) {
  ModelOptions options;
  options.optimize = false;
  auto model = Model::FromGraph(ConvBnRelu(), OnnxModelInfo{}, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->graph().nodes.size(), 3u);
  Session session(*model, SessionOptions{});
  auto out = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({1, 1, 1, 3}, {-1.f, 0.5f, 2.f})});
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR((*out)[0].as<float>()[2], 6.25f, 1e-6);
}

// data [batch, 6] -> Reshape(shape from the graph input "shape") -> Identity -> y
Graph ReshapeByInput() {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  AddInput(g, "data", DataType::kFloat, {Dim{-1, "batch"}, Dim{6, ""}});
  AddInput(g, "shape", DataType::kInt64, {Dim{2, ""}});
  g.nodes.push_back(MakeNode(g, "Reshape", {"data", "shape"}, {"r"}));
  g.nodes.push_back(MakeNode(g, "Identity", {"r"}, {"y"}));
  g.values[g.FindValue("r")].dtype = DataType::kFloat;
  g.values[g.FindValue("y")].dtype = DataType::kFloat;
  g.outputs.push_back(g.FindValue("y"));
  return g;
}

TEST(ModelTest, ShapeDecidingInputsAreValueKeyedAndPlansFollowTheirValues) {
  auto model = Model::FromGraph(ReshapeByInput(), OnnxModelInfo{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ((*model)->value_keyed_inputs(), (std::vector<bool>{false, true}));
  Session session(*model, SessionOptions{});
  std::vector<float> values(12);
  for (int i = 0; i < 12; ++i) values[i] = static_cast<float>(i);
  Tensor data = Tensor::FromVector<float>({2, 6}, values);
  auto a = session.Run(std::vector<Tensor>{data, Tensor::FromVector<int64_t>({2}, {3, 4})});
  auto b = session.Run(std::vector<Tensor>{data, Tensor::FromVector<int64_t>({2}, {6, -1})});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)[0].shape(), (Shape{3, 4}));
  EXPECT_EQ((*b)[0].shape(), (Shape{6, 2}));
  EXPECT_EQ((*b)[0].as<float>()[11], 11.f);
  // A different batch: a new plan, same data order.
  auto c = session.Run(
      std::vector<Tensor>{Tensor::FromVector<float>({1, 6}, std::vector<float>(values.begin(), values.begin() + 6)),
                          Tensor::FromVector<int64_t>({2}, {2, 3})});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].shape(), (Shape{2, 3}));
  EXPECT_EQ((*c)[0].as<float>()[5], 5.f);
  auto bad = session.Run(std::vector<Tensor>{data, Tensor::FromVector<int64_t>({2}, {5, 5})});
  EXPECT_FALSE(bad.ok());
}

TEST(ModelTest, PlanReportsPeakBesideSum) {
  auto model = Model::FromGraph(ReshapeByInput(), OnnxModelInfo{});
  ASSERT_TRUE(model.ok());
  std::vector<int64_t> shape = {4, 3};
  std::vector<TensorView> inputs = {TensorView{DataType::kFloat, {2, 6}, nullptr},
                                    TensorView{DataType::kInt64, {2}, shape.data()}};
  auto plan = (*model)->BuildPlan(inputs);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  // Reshape's output is an intermediate (48 bytes -> one 64-byte slot); the Identity's is the graph output.
  EXPECT_EQ((*plan)->steps.size(), 2u);
  EXPECT_EQ((*plan)->host().arena_bytes, 64u);
  EXPECT_EQ((*plan)->host().intermediate_bytes, 64u);
  EXPECT_EQ((*plan)->output_bytes, 48u);
}

TEST(ModelTest, ViewOpsShareTheirInputsBuffer) {
  // x [2,6] -> Relu -> Reshape [3,4] -> Relu -> y: the Reshape output aliases the first Relu's buffer.
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  AddInput(g, "x", DataType::kFloat, {Dim{2, ""}, Dim{6, ""}});
  AddInit(g, "shape", Tensor::FromVector<int64_t>({2}, {3, 4}));
  g.nodes.push_back(MakeNode(g, "Relu", {"x"}, {"a"}));
  g.nodes.push_back(MakeNode(g, "Reshape", {"a", "shape"}, {"r"}));
  g.nodes.push_back(MakeNode(g, "Relu", {"r"}, {"y"}));
  for (const char* v : {"a", "r", "y"}) g.values[g.FindValue(v)].dtype = DataType::kFloat;
  g.outputs.push_back(g.FindValue("y"));
  auto model = Model::FromGraph(std::move(g), OnnxModelInfo{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto plan = (*model)->BuildPlan({TensorView{DataType::kFloat, {2, 6}, nullptr}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)->host().intermediate_bytes, 64u);  // one buffer, not two
  EXPECT_EQ((*plan)->host().arena_bytes, 64u);
  Session session(*model, SessionOptions{});
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = static_cast<float>(i % 2 ? i : -i);
  auto out = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({2, 6}, x)});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ((*out)[0].as<float>()[i], i % 2 ? static_cast<float>(i) : 0.f);
}

}  // namespace
}  // namespace ferry
