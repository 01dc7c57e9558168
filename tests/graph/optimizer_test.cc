// Constant folding under its byte budget, and model-declared shapes that would overflow or take gigabytes:
// graphs built in the test, expected sizes worked out by hand.
#include "graph/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "graph/model.h"
#include "graph/session.h"

namespace ferry {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// x [1] -> Relu -> y, beside `count` nodes ConstantOfShape(shape = [elements], value = 1.5f) -> c0, c1, ...,
// each a graph output.
Graph ManyConstantOfShape(int count, int64_t elements) {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  int x = g.AddValue("x");
  g.values[x].dtype = DataType::kFloat;
  g.values[x].has_shape = true;
  g.values[x].shape = {Dim{1, ""}};
  g.inputs.push_back(x);
  int y = g.AddValue("y");
  g.values[y].dtype = DataType::kFloat;
  Node relu;
  relu.name = "relu";
  relu.op_type = "Relu";
  relu.inputs = {x};
  relu.outputs = {y};
  g.nodes.push_back(relu);
  g.outputs.push_back(y);
  int shape = g.AddValue("shape");
  g.values[shape].dtype = DataType::kInt64;
  g.initializers[shape] = Tensor::FromVector<int64_t>({1}, {elements});
  for (int i = 0; i < count; ++i) {
    Node n;
    n.name = "fill" + std::to_string(i);
    n.op_type = "ConstantOfShape";
    n.attrs.Set("value", Tensor::FromVector<float>({1}, {1.5f}));
    n.inputs = {shape};
    int c = g.AddValue("c" + std::to_string(i));
    g.values[c].dtype = DataType::kFloat;
    n.outputs = {c};
    g.nodes.push_back(n);
    g.outputs.push_back(c);
  }
  return g;
}

// One node `op` over initializers in0, in1, ... (dtype of each from its tensor) -> out (dtype `out_type`).
Graph OneConstantNode(const std::string& op, std::vector<Tensor> inputs, DataType out_type) {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  Node n;
  n.name = "bomb";
  n.op_type = op;
  for (size_t i = 0; i < inputs.size(); ++i) {
    int v = g.AddValue("in" + std::to_string(i));
    g.values[v].dtype = inputs[i].dtype();
    g.initializers[v] = std::move(inputs[i]);
    n.inputs.push_back(v);
  }
  int out = g.AddValue("out");
  g.values[out].dtype = out_type;
  n.outputs = {out};
  g.nodes.push_back(n);
  g.outputs.push_back(out);
  return g;
}

TEST(OptimizerTest, SaturatingByteSizeNeverWraps) {
  EXPECT_EQ(SaturatingByteSize({2, 3}, DataType::kFloat), 24u);
  EXPECT_EQ(SaturatingByteSize({}, DataType::kDouble), 8u);
  EXPECT_EQ(SaturatingByteSize({0, int64_t{1} << 62, int64_t{1} << 62}, DataType::kFloat), 0u);
  // 2^40 * 2^40 elements wrap to 0 in 64-bit arithmetic; 2^62 floats are 2^64 bytes.
  EXPECT_EQ(SaturatingByteSize({int64_t{1} << 40, int64_t{1} << 40}, DataType::kFloat), SIZE_MAX);
  EXPECT_EQ(SaturatingByteSize({int64_t{1} << 62}, DataType::kFloat), SIZE_MAX);
  EXPECT_EQ(SaturatingByteSize({int64_t{1} << 61}, DataType::kFloat), size_t{1} << 63);
}

TEST(OptimizerTest, FoldBudgetKeepsSmallOutputsApart) {
  FoldBudget budget(10000);
  EXPECT_TRUE(budget.Take(6000));
  EXPECT_FALSE(budget.Take(6000));
  EXPECT_FALSE(budget.Take(5000));
  EXPECT_EQ(budget.large_left(), 4000u);
  // Outputs of at most 4096 bytes draw first on their own pool of 10000: two of 4096 fit there, a third does
  // not and neither does it fit in the 4000 left of the main pool.
  EXPECT_TRUE(budget.Take(4096));
  EXPECT_TRUE(budget.Take(4096));
  EXPECT_EQ(budget.large_left(), 4000u);
  EXPECT_FALSE(budget.Take(4096));
  EXPECT_TRUE(budget.Take(1808));  // 10000 - 8192: the small pool is empty now
  EXPECT_TRUE(budget.Take(100));   // from the main pool
  EXPECT_EQ(budget.large_left(), 3900u);
  EXPECT_TRUE(budget.Take(3900));
  EXPECT_FALSE(budget.Take(1));
}

TEST(OptimizerTest, DefaultBudgetFoldsFourOfEight64MiBConstants) {
  // 8 x 16 Mi floats = 8 x 64 MiB; the default budget is 256 MiB, so exactly 4 fold and 4 stay.
  auto model = Model::FromGraph(ManyConstantOfShape(8, int64_t{16} << 20), OnnxModelInfo{});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const OptimizerStats& stats = (*model)->optimizer_stats();
  EXPECT_EQ(stats.folded_nodes, 4);
  EXPECT_EQ(stats.folded_bytes, 256 * kMiB);
  EXPECT_EQ(stats.unfolded_nodes, 4);
  ASSERT_EQ(stats.unfolded_messages.size(), 4u);
  EXPECT_NE(stats.unfolded_messages[0].find("fill4"), std::string::npos) << stats.unfolded_messages[0];
  EXPECT_NE(stats.unfolded_messages[0].find("64.0 MiB"), std::string::npos) << stats.unfolded_messages[0];
  EXPECT_NE(stats.unfolded_messages[0].find("budget"), std::string::npos) << stats.unfolded_messages[0];
  // Relu and the 4 unfolded ConstantOfShape remain.
  EXPECT_EQ((*model)->graph().nodes.size(), 5u);
}

TEST(OptimizerTest, BudgetFromModelOptionsAlsoBoundsPlanning) {
  // 8 x 64 Ki floats = 8 x 256 KiB under a 1 MiB budget: 4 fold at load, and planning (which would fold
  // every node whose inputs are constant) folds none of the rest: they run as steps, with planned memory.
  ModelOptions options;
  options.optimizer.max_folded_bytes = kMiB;
  auto model = Model::FromGraph(ManyConstantOfShape(8, 65536), OnnxModelInfo{}, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->optimizer_stats().folded_nodes, 4);
  EXPECT_EQ((*model)->optimizer_stats().unfolded_nodes, 4);
  std::vector<float> x = {-2.f};
  auto plan = (*model)->BuildPlan({TensorView{DataType::kFloat, {1}, x.data()}});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ((*plan)->folded_nodes, 0);
  EXPECT_EQ((*plan)->steps.size(), 5u);
  EXPECT_EQ((*plan)->output_bytes, 4 * 256 * 1024u + 4u);
  // Folded or run, every output is 65536 x 1.5.
  Session session(*model, SessionOptions{});
  auto out = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({1}, {-2.f})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 9u);
  EXPECT_EQ((*out)[0].as<float>()[0], 0.f);
  for (size_t i = 1; i < 9; ++i) {
    ASSERT_EQ((*out)[i].shape(), (Shape{65536})) << i;
    EXPECT_EQ((*out)[i].as<float>()[0], 1.5f) << i;
    EXPECT_EQ((*out)[i].as<float>()[65535], 1.5f) << i;
  }
}

TEST(OptimizerTest, ShapeComputationsFoldAfterLargeConstantsSpentTheBudget) {
  // fill: ConstantOfShape([262144]) floats = exactly the 1 MiB budget, first in the graph; then the Reshape
  // target [3, 2] = Concat([3], [2]) (16 bytes) must still fold, since Reshape needs it constant.
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  int x = g.AddValue("x");
  g.values[x].dtype = DataType::kFloat;
  g.values[x].has_shape = true;
  g.values[x].shape = {Dim{2, ""}, Dim{3, ""}};
  g.inputs.push_back(x);
  auto init = [&](const std::string& name, Tensor t) {
    int v = g.AddValue(name);
    g.values[v].dtype = t.dtype();
    g.initializers[v] = std::move(t);
    return v;
  };
  auto value = [&](const std::string& name, DataType t) {
    int v = g.AddValue(name);
    g.values[v].dtype = t;
    return v;
  };
  Node fill;
  fill.name = "fill";
  fill.op_type = "ConstantOfShape";
  fill.inputs = {init("n", Tensor::FromVector<int64_t>({1}, {262144}))};
  fill.outputs = {value("big", DataType::kFloat)};
  Node concat;
  concat.name = "target";
  concat.op_type = "Concat";
  concat.attrs.Set("axis", int64_t{0});
  concat.inputs = {init("a", Tensor::FromVector<int64_t>({1}, {3})), init("b", Tensor::FromVector<int64_t>({1}, {2}))};
  concat.outputs = {value("shape", DataType::kInt64)};
  Node reshape;
  reshape.name = "reshape";
  reshape.op_type = "Reshape";
  reshape.inputs = {x, concat.outputs[0]};
  reshape.outputs = {value("y", DataType::kFloat)};
  g.nodes = {fill, concat, reshape};
  g.outputs = {reshape.outputs[0], fill.outputs[0]};
  ModelOptions options;
  options.optimizer.max_folded_bytes = kMiB;
  auto model = Model::FromGraph(std::move(g), OnnxModelInfo{}, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->optimizer_stats().folded_nodes, 2);
  EXPECT_EQ((*model)->optimizer_stats().folded_bytes, kMiB + 16);
  EXPECT_EQ((*model)->optimizer_stats().unfolded_nodes, 0);
  Session session(*model, SessionOptions{});
  auto out = session.Run(std::vector<Tensor>{Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ((*out)[0].as<float>()[5], 6.f);
}

TEST(OptimizerTest, ShapesOfAnAbsurdSizeAreRefusedWithTheNodesName) {
  struct Case {
    const char* what;
    Graph graph;
  };
  const int64_t big = int64_t{1} << 40;
  std::vector<Case> cases;
  cases.push_back(
      {"ConstantOfShape [2^40, 2^40]",
       OneConstantNode("ConstantOfShape", {Tensor::FromVector<int64_t>({2}, {big, big})}, DataType::kFloat)});
  cases.push_back(
      {"Expand to [2^40, 2^40]",
       OneConstantNode("Expand", {Tensor::FromVector<float>({1}, {1.f}), Tensor::FromVector<int64_t>({2}, {big, big})},
                       DataType::kFloat)});
  cases.push_back({"Tile x 2^62 (wraps int64 with the input dim 4)",
                   OneConstantNode("Tile",
                                   {Tensor::FromVector<float>({4}, {1.f, 2.f, 3.f, 4.f}),
                                    Tensor::FromVector<int64_t>({1}, {int64_t{1} << 62})},
                                   DataType::kFloat)});
  cases.push_back({"Range int64 over the whole int64 line",
                   OneConstantNode("Range",
                                   {Tensor::FromVector<int64_t>({}, {std::numeric_limits<int64_t>::min()}),
                                    Tensor::FromVector<int64_t>({}, {std::numeric_limits<int64_t>::max()}),
                                    Tensor::FromVector<int64_t>({}, {1})},
                                   DataType::kInt64)});
  cases.push_back({"Range float with a tiny step",
                   OneConstantNode("Range",
                                   {Tensor::FromVector<float>({}, {0.f}), Tensor::FromVector<float>({}, {1e30f}),
                                    Tensor::FromVector<float>({}, {1e-30f})},
                                   DataType::kFloat)});
  for (Case& c : cases) {
    auto model = Model::FromGraph(std::move(c.graph), OnnxModelInfo{});
    ASSERT_FALSE(model.ok()) << c.what;
    const std::string message = model.status().message();
    EXPECT_NE(message.find("\"bomb\""), std::string::npos) << c.what << ": " << message;
    EXPECT_TRUE(message.find("too large") != std::string::npos || message.find("elements") != std::string::npos)
        << c.what << ": " << message;
  }
}

TEST(OptimizerTest, RangeWithANaNOrInfiniteStepIsRefused) {
  for (float delta : {std::nanf(""), std::numeric_limits<float>::infinity(), 0.f}) {
    auto model =
        Model::FromGraph(OneConstantNode("Range",
                                         {Tensor::FromVector<float>({}, {0.f}), Tensor::FromVector<float>({}, {4.f}),
                                          Tensor::FromVector<float>({}, {delta})},
                                         DataType::kFloat),
                         OnnxModelInfo{});
    ASSERT_FALSE(model.ok()) << delta;
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument) << delta;
    EXPECT_NE(model.status().message().find("delta must be nonzero and all inputs finite"), std::string::npos)
        << model.status().ToString();
  }
}

}  // namespace
}  // namespace ferry
