#include "kernels/kernel.h"

namespace ferry {

int64_t Attributes::Int(const std::string& name, int64_t def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return def;
}

float Attributes::Float(const std::string& name, float def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (auto* v = std::get_if<float>(&it->second)) return *v;
  return def;
}

std::string Attributes::String(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return def;
}

std::vector<int64_t> Attributes::Ints(const std::string& name, std::vector<int64_t> def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return def;
}

std::vector<float> Attributes::Floats(const std::string& name, std::vector<float> def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  if (auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  return def;
}

const Tensor* Attributes::TensorAttr(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

bool KernelPlacement::is_host_input(size_t i) const {
  for (int k : host_inputs)
    if (k == static_cast<int>(i)) return true;
  return false;
}

const KernelEntry* KernelTable::Find(const std::string& op_type, int opset) const {
  auto it = entries_.find(op_type);
  if (it == entries_.end()) return nullptr;
  for (const KernelEntry& e : it->second) {
    if (opset >= e.min_opset && opset <= e.max_opset) return &e;
  }
  return nullptr;
}

}  // namespace ferry
