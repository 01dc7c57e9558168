#include "backends/device.h"

#include "backends/cpu_device.h"

namespace ferry {

const BufferType& Device::host_buffer_type() const { return HostBufferType(); }

Result<const KernelEntry*> Device::FindKernel(const KernelDef& def) const {
  if (!def.domain.empty()) {
    return Unimplemented("op {} of domain \"{}\" is not supported", def.op_type, def.domain);
  }
  const KernelEntry* entry = kernels().Find(def.op_type, def.opset);
  if (entry == nullptr) {
    if (kernels().HasOp(def.op_type)) {
      return Unimplemented("op {} is not supported at opset {} on {}", def.op_type, def.opset, id());
    }
    return Unimplemented("op {} is not supported on {}", def.op_type, id());
  }
  if (def.activation.kind != ActivationKind::kNone && !entry->fuses_activation) {
    return Unimplemented("op {} cannot take a fused activation on {}", def.op_type, id());
  }
  return entry;
}

Result<std::unique_ptr<Kernel>> Device::CreateKernel(const KernelDef& def) const {
  FERRY_ASSIGN_OR_RETURN(const KernelEntry* entry, FindKernel(def));
  return entry->create(def);
}

}  // namespace ferry
