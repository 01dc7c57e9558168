// Reads ONNX files into Ferry's IR. The only file in Ferry that sees the ONNX protobuf.
//
// Loading parses the ModelProto, reads external-data files beside the model (confined to the model's folder),
// runs the ONNX checker and ONNX shape inference, and converts the graph. Everything a model can get wrong
// (bad protobuf, failed check, unsupported opset, subgraph attributes, non-tensor values, unreadable external
// data) comes back as a Status naming the culprit. Thread-safe: no shared state.
#pragma once

#include <string>

#include "common/status.h"
#include "common/tensor.h"
#include "graph/graph.h"

namespace ferry {

struct OnnxModelInfo {
  int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::string graph_name;
};

// Supported default-domain opsets.
inline constexpr int kMinOpset = 6;
inline constexpr int kMaxOpset = 17;

// Loads `path` (a model.onnx). `info` may be null.
Result<Graph> LoadOnnxModel(const std::string& path, OnnxModelInfo* info);
// Same, from bytes in memory; external data is resolved relative to `base_dir` (empty: none allowed).
Result<Graph> LoadOnnxModelFromBytes(const std::string& bytes, const std::string& base_dir, OnnxModelInfo* info);

// Reads a serialized TensorProto (the conformance suite's input_N.pb / output_N.pb). `name` may be null.
Result<Tensor> ReadTensorProtoFile(const std::string& path, std::string* name);

}  // namespace ferry
