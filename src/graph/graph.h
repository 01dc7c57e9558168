// Ferry's graph IR: what the ONNX loader produces and the optimizer and planner consume.
//
// Values are numbered; nodes refer to values by index. The IR owns its initializers (weights). It carries no
// ONNX types, so only onnx_loader.cc depends on the ONNX protobuf. Not synchronized: built once at load, then
// read-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "kernels/kernel.h"

namespace ferry {

// One dimension of a declared shape: a fixed size, or symbolic (`dim_param` or unknown, value -1).
struct Dim {
  int64_t value = -1;
  std::string param;  // name of a symbolic dim, may be empty
  bool fixed() const { return value >= 0; }
};

struct ValueInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;
  std::vector<Dim> shape;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;        // "" for the default domain
  std::vector<int> inputs;   // value indices; -1 for an absent optional input
  std::vector<int> outputs;  // value indices; -1 for an unused optional output
  Attributes attrs;
  Activation activation;  // fused epilogue, set by the optimizer
};

class Graph {
 public:
  // Returns the index of the value called `name`, creating it if new.
  int AddValue(const std::string& name);
  int FindValue(const std::string& name) const;  // -1 if absent
  int NewValue(const std::string& hint);         // a fresh, uniquely named value

  std::vector<ValueInfo> values;
  std::vector<Node> nodes;  // topologically sorted after Validate()
  std::vector<int> inputs;  // graph inputs that are not initializers, in declaration order
  std::vector<int> outputs;
  std::map<int, Tensor> initializers;
  int opset = 0;                      // default-domain opset
  std::map<std::string, int> opsets;  // every imported domain -> version

  // Sorts nodes topologically; fails on cycles or on a value read before any node, input or initializer
  // defines it, or defined twice.
  Status TopologicalSort();
  // A description of a node for messages: `node "conv1" (Conv, opset 13)`.
  std::string Describe(const Node& node) const;

 private:
  std::map<std::string, int> by_name_;
};

}  // namespace ferry
