// The kernel contract shared by every backend.
//
// A backend's kernel table maps an op type to a factory. The graph layer calls the factory once per node at
// load (to refuse what cannot run, naming the attribute or type at fault) and once per execution plan; each
// plan owns its kernel instances, so a kernel may keep state computed in Prepare for that plan's shapes.
//
// Life of a kernel within a plan:
//   1. Prepare(ctx): input shapes and types are set; input data is set only for inputs whose value is known
//      when the plan is made (initializers, folded constants, shape-like graph inputs). Prepare must call
//      set_output() for every output, may request scratch memory, and fails with a clear Status on input it
//      cannot handle. It must not depend on non-constant input data.
//   2. Compute(ctx), any number of times: inputs and outputs have data; outputs have exactly the shapes set in
//      Prepare and point at memory the plan owns; scratch() has at least the requested bytes.
// Kernels are used by one thread at a time (the worker that runs the plan); Compute may fan out internally
// to ctx.num_threads() threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"

namespace ferry {

// One ONNX attribute value. Graph-valued attributes (If/Loop/Scan bodies) are refused by the loader.
using AttributeValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                                    std::vector<std::string>, Tensor>;

class Attributes {
 public:
  void Set(const std::string& name, AttributeValue value) { values_[name] = std::move(value); }
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, AttributeValue>& all() const { return values_; }

  // Getters return the default when the attribute is absent or of another kind.
  int64_t Int(const std::string& name, int64_t def) const;
  float Float(const std::string& name, float def) const;
  std::string String(const std::string& name, const std::string& def) const;
  std::vector<int64_t> Ints(const std::string& name, std::vector<int64_t> def = {}) const;
  std::vector<float> Floats(const std::string& name, std::vector<float> def = {}) const;
  // nullptr when absent.
  const Tensor* TensorAttr(const std::string& name) const;

 private:
  std::map<std::string, AttributeValue> values_;
};

// An element-wise activation applied by a producing kernel (Conv, Gemm, MatMul) to its output, when the
// graph layer fuses "op -> activation" into one node. kNone means no epilogue.
enum class ActivationKind { kNone, kRelu, kLeakyRelu, kSigmoid, kTanh, kClip, kHardSigmoid, kGelu };
struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.f;  // LeakyRelu slope, Clip min, HardSigmoid alpha
  float beta = 0.f;   // Clip max, HardSigmoid beta
};

// What a factory sees of a node.
struct KernelDef {
  std::string name;     // node name (may be empty)
  std::string op_type;  // "Conv"
  std::string domain;   // "" for the default ONNX domain
  int opset = 0;        // opset version of the node's domain
  Attributes attrs;
  // Element type of each input (kUndefined for an absent optional input or when not known at load).
  std::vector<DataType> input_types;
  std::vector<bool> input_present;
  // True for inputs whose value is fixed at load (initializers): a kernel may refuse a model whose
  // mode-selecting input (e.g. Dropout's training_mode) could change per request.
  std::vector<bool> input_constant;
  size_t num_outputs = 0;
  // Fused epilogue (set by the graph layer; only kernels that support it are fused).
  Activation activation;
};

// What a kernel derives from a constant input in Prepare (packed weights, a transposed filter), shared by every
// plan of the model on the same device instead of one copy per plan. The graph layer binds it for Prepare; the
// key is the graph value feeding the input plus the kernel's own description of what it derives, never a pointer.
class DerivedConstants {
 public:
  virtual ~DerivedConstants() = default;
  // The object derived from known input `input` as `layout` says ("conv-packed g=1 m=64 k=576 t=0"): made by
  // `make` the first time (nullptr from make is returned and not kept), then shared. Thread-safe.
  virtual std::shared_ptr<const void> GetOrMake(size_t input, const std::string& layout,
                                                const std::function<std::shared_ptr<const void>()>& make) = 0;
};

class KernelContext {
 public:
  size_t num_inputs() const { return inputs_.size(); }
  // False for an absent optional input (empty name in ONNX) or one past the end.
  bool has_input(size_t i) const { return i < inputs_.size() && present_[i]; }
  // REQUIRES: has_input(i). In Prepare, data is nullptr unless the value is known.
  const TensorView& input(size_t i) const { return inputs_[i]; }
  bool input_known(size_t i) const { return has_input(i) && inputs_[i].data != nullptr; }

  size_t num_outputs() const { return outputs_.size(); }
  // Prepare: declares output i.
  void set_output(size_t i, DataType dtype, Shape shape) {
    outputs_[i].dtype = dtype;
    outputs_[i].shape = std::move(shape);
  }
  // Compute: output i with its data.
  TensorView& output(size_t i) { return outputs_[i]; }

  // Prepare: asks for scratch memory available in Compute (the plan takes the max over kernels).
  void request_scratch(size_t bytes) {
    if (bytes > scratch_bytes_) scratch_bytes_ = bytes;
  }
  void* scratch() const { return scratch_; }
  int num_threads() const { return num_threads_; }
  // Prepare: where to share what the kernel derives from constant inputs; nullptr when nothing is shared (the
  // kernel then keeps its own copy).
  DerivedConstants* derived() const { return derived_; }
  // Compute: the native stream or queue of the device the step runs on (Stream::native(); nullptr on the CPU).
  // Work a kernel queues on it is ordered after the step's input copies and before its consumers.
  void* stream() const { return stream_; }

  // Used by the graph layer to set the context up.
  std::vector<TensorView> inputs_;
  std::vector<bool> present_;
  std::vector<TensorView> outputs_;
  size_t scratch_bytes_ = 0;
  void* scratch_ = nullptr;
  int num_threads_ = 1;
  void* stream_ = nullptr;
  DerivedConstants* derived_ = nullptr;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Prepare(KernelContext& ctx) = 0;
  virtual Status Compute(KernelContext& ctx) = 0;
};

// A function, so that a backend may wrap another's kernels (tests wrap the CPU's for a simulated device).
using KernelFactory = std::function<Result<std::unique_ptr<Kernel>>(const KernelDef& def)>;

// What the graph layer must know of an op to place it and plan its memory, whatever device runs it. These are
// properties of the op's ONNX semantics, so every backend's entry for an op declares the same (a backend's
// table starts from CpuKernelTable()'s placement or repeats it).
struct KernelPlacement {
  // Inputs whose values decide output shapes: Prepare reads them, so they are host-resident and, where the plan
  // can know them (initializers, folded shape computations, value-keyed graph inputs), known when it is made.
  // Graph inputs that reach one of them through anything but a shape_only node become value-keyed.
  std::vector<int> host_inputs;
  // Output 0 holds exactly input 0's bytes (Reshape, Squeeze, Identity, ...): the plan may let it share
  // input 0's buffer, when both live on the same device, and the kernel's copy is then a no-op.
  bool output_aliases_input = false;
  // Outputs depend only on input shapes (Shape, Size): computed while planning, never at run time.
  bool shape_only = false;

  bool is_host_input(size_t i) const;
};

struct KernelEntry {
  KernelFactory create;
  int min_opset = 1;  // the entry serves opsets [min_opset, max_opset] of its op
  int max_opset = 1 << 30;
  bool fuses_activation = false;  // accepts def.activation
  KernelPlacement placement;
};

// op_type -> entries (default domain only). Built explicitly by each backend; never self-registering.
class KernelTable {
 public:
  void Add(const std::string& op_type, KernelEntry entry) { entries_[op_type].push_back(entry); }
  // nullptr when the op or opset is not served.
  const KernelEntry* Find(const std::string& op_type, int opset) const;
  bool HasOp(const std::string& op_type) const { return entries_.count(op_type) != 0; }
  // Every op with its entries, for backends that wrap another's table.
  const std::unordered_map<std::string, std::vector<KernelEntry>>& entries() const { return entries_; }

 private:
  std::unordered_map<std::string, std::vector<KernelEntry>> entries_;
};

// Shorthand for factories: `return MakeKernel<ReluKernel>(def);` or with constructor args.
template <typename K, typename... Args>
Result<std::unique_ptr<Kernel>> MakeKernel(Args&&... args) {
  return std::unique_ptr<Kernel>(new K(std::forward<Args>(args)...));
}

}  // namespace ferry
