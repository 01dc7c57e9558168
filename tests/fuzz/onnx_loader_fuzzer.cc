// Fuzzes the ONNX loader and the graph code behind it: the input is the bytes of a model.onnx.
//
// Each input is parsed and checked (LoadOnnxModelFromBytes: protobuf, external data, ONNX checker and shape
// inference, conversion), then built as the server builds an upload (Model::FromGraph: validation, constant
// folding, fusions), then planned for batch 1 (Model::BuildPlan: shapes, kernels' Prepare, memory plan) and, when
// the plan is small, run once on zero inputs (Session::Run), as the first request would. External data may name
// one small file, weights.bin, in the model's folder (a private temporary directory).
//
// Bounded per input: inputs larger than kMaxInputBytes are skipped; planning only when the model's inputs take at
// most kMaxInputTensorBytes; running only when the plan's memory is at most kMaxRunBytes. Properties, beyond "no
// crash, no UB, no leak, no exception": a planned step never references a value out of range, and a run returns
// one tensor per output.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "graph/model.h"
#include "graph/onnx_loader.h"
#include "graph/session.h"

namespace fs = std::filesystem;

namespace ferry {
namespace {

constexpr size_t kMaxInputBytes = 256 * 1024;
constexpr size_t kMaxInputTensorBytes = 1 << 20;
constexpr size_t kMaxRunBytes = 16 << 20;

// The folder the model is loaded from: it holds weights.bin (256 bytes: 0, 1, ..., 255) for external data.
const std::string& ModelDir() {
  static const std::string* dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ferry-onnx-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::ofstream out(pattern + "/weights.bin", std::ios::binary);
    for (int i = 0; i < 256; ++i) out.put(static_cast<char>(i));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(ModelDir(), ec);
    });
    return new std::string(pattern);
  }();
  return *dir;
}

void PlanAndRun(const std::shared_ptr<const Model>& model) {
  const std::vector<Shape> shapes = model->ShapesForBatch(1);
  FUZZ_CHECK(shapes.size() == model->inputs().size(), "ShapesForBatch: wrong number of shapes");
  size_t input_bytes = 0;
  std::vector<Tensor> inputs;
  std::vector<TensorView> views;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const DataType dtype = model->inputs()[i].dtype;
    for (int64_t d : shapes[i]) {
      FUZZ_CHECK(d >= 0, "ShapesForBatch gave " + ShapeToString(shapes[i]));
      if (d > static_cast<int64_t>(kMaxInputTensorBytes)) return;
    }
    const int64_t numel = NumElements(shapes[i]);
    if (numel < 0 || static_cast<size_t>(numel) > kMaxInputTensorBytes) return;
    input_bytes += static_cast<size_t>(numel) * DataTypeSize(dtype);
    if (input_bytes > kMaxInputTensorBytes || DataTypeSize(dtype) == 0) return;
    Result<Tensor> t = Tensor::Allocate(dtype, shapes[i]);  // zeros
    if (!t.ok()) return;
    inputs.push_back(*t);
    views.push_back(t->view());
  }
  if (!model->CheckInputs(views).ok()) return;
  Result<std::unique_ptr<Plan>> plan = model->BuildPlan(views);
  if (!plan.ok()) return;
  // The graph's values, then any the plan adds (copies between devices, device constants).
  const size_t values = (*plan)->slots.size();
  FUZZ_CHECK(values >= model->graph().values.size(), "the plan has fewer slots than the graph has values");
  for (const PlanStep& step : (*plan)->steps) {
    for (int v : step.inputs) FUZZ_CHECK(v >= -1 && v < static_cast<int>(values), "step input out of range");
    for (int v : step.outputs) FUZZ_CHECK(v >= 0 && v < static_cast<int>(values), "step output out of range");
  }
  const size_t run_bytes = (*plan)->host().bytes() + (*plan)->output_bytes;
  if (run_bytes > kMaxRunBytes) return;
  Session session(model, SessionOptions{1, false, {}});
  Result<std::vector<Tensor>> outputs = session.Run(inputs);
  if (outputs.ok()) FUZZ_CHECK(outputs->size() == model->outputs().size(), "a run returned the wrong output count");
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  if (size > kMaxInputBytes) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  OnnxModelInfo info;
  Result<Graph> graph = LoadOnnxModelFromBytes(bytes, ModelDir(), &info);
  if (!graph.ok()) return 0;
  Result<std::shared_ptr<const Model>> model = Model::FromGraph(std::move(graph).value(), info);
  if (!model.ok()) return 0;
  PlanAndRun(*model);
  return 0;
}
