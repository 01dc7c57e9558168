// What the protocol codecs know about a model: the name, element type and shape of each input and output.
// Plain data; the server fills it from the loaded model version.
#pragma once

#include <string>
#include <vector>

#include "ferry/dtype.h"
#include "ferry/tensor.h"

namespace ferry::protocol {

struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Shape shape;            // -1 marks a symbolic (any size) dimension
  bool has_shape = true;  // false: the model does not fix the rank, so any shape is accepted
};

// True when `shape` fits `spec` (same rank, equal fixed dims). Always true when !spec.has_shape.
bool ShapeMatchesSpec(const TensorSpec& spec, const Shape& shape);

}  // namespace ferry::protocol
