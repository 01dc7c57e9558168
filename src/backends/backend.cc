#include "backends/backend.h"

namespace ferry {

Result<std::unique_ptr<Kernel>> Backend::CreateKernel(const KernelDef& def) const {
  if (!def.domain.empty()) {
    return Unimplemented("op {} of domain \"{}\" is not supported", def.op_type, def.domain);
  }
  const KernelEntry* entry = kernels().Find(def.op_type, def.opset);
  if (entry == nullptr) {
    if (kernels().HasOp(def.op_type)) {
      return Unimplemented("op {} is not supported at opset {} on {}", def.op_type, def.opset, name());
    }
    return Unimplemented("op {} is not supported on {}", def.op_type, name());
  }
  if (def.activation.kind != ActivationKind::kNone && !entry->fuses_activation) {
    return Internal("op {} cannot take a fused activation", def.op_type);
  }
  return entry->create(def);
}

Status Backend::Supports(const KernelDef& def) const { return CreateKernel(def).status(); }

}  // namespace ferry
