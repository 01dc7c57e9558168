// The CLI's tensor JSON form: {"dtype": "float", "shape": [..], "data": [flat row-major values]}.
#pragma once

#include <nlohmann/json.hpp>

#include "ferry/status.h"
#include "ferry/tensor.h"

namespace ferry {

// Parses a data type name ("float", "int64", "bool", ...). kUndefined if unknown.
DataType DataTypeFromName(const std::string& name);

// Builds a tensor of `dtype` from {"shape": [...], "data": [...]} ("data" may be nested; it is flattened).
// Any malformed field is an InvalidArgument naming `what`.
Result<Tensor> TensorFromJson(const nlohmann::json& j, DataType dtype, const std::string& what);
nlohmann::json TensorToJson(const Tensor& t);

}  // namespace ferry
