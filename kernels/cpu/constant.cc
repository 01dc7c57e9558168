// Constant: the tensor held in one of its attributes (value, value_float(s), value_int(s)).
#include <cstring>
#include <variant>

#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

class ConstantKernel : public Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}

  Status Prepare(KernelContext& ctx) override {
    ctx.set_output(0, value_.dtype(), value_.shape());
    return Status::Ok();
  }
  Status Compute(KernelContext& ctx) override {
    if (value_.nbytes() != 0) std::memcpy(ctx.output(0).data, value_.data(), value_.nbytes());
    return Status::Ok();
  }

 private:
  const Tensor value_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateConstant(const KernelDef& def) {
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    if (def.attrs.Has(name)) return Unimplemented("Constant: attribute '{}' is not supported", name);
  }
  int found = 0;
  Tensor value;
  for (const auto& [name, attr] : def.attrs.all()) {
    if (name == "value") {
      const Tensor* t = std::get_if<Tensor>(&attr);
      if (t == nullptr) return InvalidArgument("Constant: attribute 'value' is not a tensor");
      FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(t->dtype(), "Constant", "attribute 'value'"));
      value = *t;
    } else if (name == "value_float") {
      const float* f = std::get_if<float>(&attr);
      if (f == nullptr) return InvalidArgument("Constant: attribute 'value_float' is not a float");
      value = Tensor::FromVector<float>(Shape{}, {*f});
    } else if (name == "value_floats") {
      std::vector<float> v;
      if (const auto* p = std::get_if<std::vector<float>>(&attr)) v = *p;
      value = Tensor::FromVector<float>(Shape{static_cast<int64_t>(v.size())}, v);
    } else if (name == "value_int") {
      const int64_t* i = std::get_if<int64_t>(&attr);
      if (i == nullptr) return InvalidArgument("Constant: attribute 'value_int' is not an int");
      value = Tensor::FromVector<int64_t>(Shape{}, {*i});
    } else if (name == "value_ints") {
      std::vector<int64_t> v;
      if (const auto* p = std::get_if<std::vector<int64_t>>(&attr)) v = *p;
      value = Tensor::FromVector<int64_t>(Shape{static_cast<int64_t>(v.size())}, v);
    } else {
      continue;
    }
    ++found;
  }
  if (found != 1) return InvalidArgument("Constant: exactly one value attribute is required, got {}", found);
  return MakeKernel<ConstantKernel>(std::move(value));
}

}  // namespace ferry::cpu
