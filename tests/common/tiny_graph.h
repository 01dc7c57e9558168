// A one-node float graph for tests that need a real Model but not a real file: x -> <op> -> y, with the
// shapes given (Dim{-1, "batch"} for a symbolic batch) and optional initializers as extra inputs of the node.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "graph/model.h"

namespace ferry::testing {

struct TinyGraphSpec {
  std::string op_type = "Relu";
  std::vector<Dim> x_shape{Dim{1, ""}};
  bool y_has_shape = false;          // declare y's shape (= x's) on the graph output
  std::vector<Tensor> initializers;  // extra node inputs, named c0, c1, ...
  std::string graph_name;
};

inline std::shared_ptr<const Model> TinyModel(const TinyGraphSpec& spec) {
  Graph g;
  g.opset = 13;
  g.opsets[""] = 13;
  int x = g.AddValue("x");
  g.values[x].dtype = DataType::kFloat;
  g.values[x].has_shape = true;
  g.values[x].shape = spec.x_shape;
  g.inputs.push_back(x);
  Node n;
  n.name = "node";
  n.op_type = spec.op_type;
  n.inputs = {x};
  for (size_t i = 0; i < spec.initializers.size(); ++i) {
    int c = g.AddValue("c" + std::to_string(i));
    g.values[c].dtype = spec.initializers[i].dtype();
    g.values[c].has_shape = true;
    for (int64_t d : spec.initializers[i].shape()) g.values[c].shape.push_back(Dim{d, ""});
    g.initializers[c] = spec.initializers[i];
    n.inputs.push_back(c);
  }
  int y = g.AddValue("y");
  g.values[y].dtype = DataType::kFloat;
  if (spec.y_has_shape) {
    g.values[y].has_shape = true;
    g.values[y].shape = spec.x_shape;
  }
  n.outputs = {y};
  g.nodes.push_back(n);
  g.outputs.push_back(y);
  OnnxModelInfo info;
  info.graph_name = spec.graph_name;
  auto m = Model::FromGraph(std::move(g), info);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : nullptr;
}

}  // namespace ferry::testing
