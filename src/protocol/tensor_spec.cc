#include "protocol/tensor_spec.h"

namespace ferry::protocol {

bool ShapeMatchesSpec(const TensorSpec& spec, const Shape& shape) {
  if (!spec.has_shape) return true;
  if (spec.shape.size() != shape.size()) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (spec.shape[i] >= 0 && spec.shape[i] != shape[i]) return false;
  }
  return true;
}

}  // namespace ferry::protocol
