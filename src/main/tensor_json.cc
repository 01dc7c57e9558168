#include "main/tensor_json.h"

#include <cmath>
#include <limits>

namespace ferry {
namespace {

void Flatten(const nlohmann::json& j, std::vector<const nlohmann::json*>* out) {
  if (j.is_array()) {
    for (const auto& e : j) Flatten(e, out);
  } else {
    out->push_back(&j);
  }
}

template <typename T>
Status Fill(const std::vector<const nlohmann::json*>& values, Tensor& t, const std::string& what) {
  T* p = t.as<T>();
  for (size_t i = 0; i < values.size(); ++i) {
    const nlohmann::json& v = *values[i];
    if constexpr (std::is_same_v<T, bool>) {
      if (v.is_boolean())
        p[i] = v.get<bool>();
      else if (v.is_number())
        p[i] = v.get<double>() != 0;
      else
        return InvalidArgument("{}: element {} is not a boolean", what, i);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (v.is_number())
        p[i] = static_cast<T>(v.get<double>());
      else if (v.is_string() && (v == "NaN" || v == "nan"))
        p[i] = std::numeric_limits<T>::quiet_NaN();
      else if (v.is_string() && (v == "Infinity" || v == "inf"))
        p[i] = std::numeric_limits<T>::infinity();
      else if (v.is_string() && (v == "-Infinity" || v == "-inf"))
        p[i] = -std::numeric_limits<T>::infinity();
      else
        return InvalidArgument("{}: element {} is not a number", what, i);
    } else {
      if (v.is_number_integer()) {
        if (v.is_number_unsigned())
          p[i] = static_cast<T>(v.get<uint64_t>());
        else
          p[i] = static_cast<T>(v.get<int64_t>());
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) {
        p[i] = static_cast<T>(v.get<double>());
      } else if (v.is_boolean()) {
        p[i] = v.get<bool>() ? 1 : 0;
      } else {
        return InvalidArgument("{}: element {} is not an integer", what, i);
      }
    }
  }
  return Status::Ok();
}

template <typename T>
nlohmann::json Values(const Tensor& t) {
  nlohmann::json a = nlohmann::json::array();
  const T* p = t.as<T>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(p[i]))
        a.push_back("NaN");
      else if (std::isinf(p[i]))
        a.push_back(p[i] > 0 ? "Infinity" : "-Infinity");
      else
        a.push_back(p[i]);
    } else {
      a.push_back(p[i]);
    }
  }
  return a;
}

}  // namespace

DataType DataTypeFromName(const std::string& name) {
  for (int v = 1; v <= 16; ++v) {
    if (!IsKnownDataType(v)) continue;
    DataType t = static_cast<DataType>(v);
    if (DataTypeName(t) == name) return t;
  }
  if (name == "float32") return DataType::kFloat;
  if (name == "float64") return DataType::kDouble;
  return DataType::kUndefined;
}

Result<Tensor> TensorFromJson(const nlohmann::json& j, DataType dtype, const std::string& what) {
  if (!j.is_object()) return InvalidArgument("{}: expected an object with \"shape\" and \"data\"", what);
  if (!j.contains("shape") || !j["shape"].is_array()) return InvalidArgument("{}: \"shape\" must be an array", what);
  if (!j.contains("data")) return InvalidArgument("{}: \"data\" is missing", what);
  if (j.contains("dtype")) {
    if (!j["dtype"].is_string()) return InvalidArgument("{}: \"dtype\" must be a string", what);
    DataType given = DataTypeFromName(j["dtype"].get<std::string>());
    if (given == DataType::kUndefined)
      return InvalidArgument("{}: unknown dtype \"{}\"", what, j["dtype"].get<std::string>());
    if (dtype != DataType::kUndefined && given != dtype) {
      return InvalidArgument("{}: dtype {} does not match the model's {}", what, DataTypeName(given),
                             DataTypeName(dtype));
    }
    dtype = given;
  }
  Shape shape;
  for (const auto& d : j["shape"]) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      return InvalidArgument("{}: shape entries must be non-negative integers", what);
    shape.push_back(d.get<int64_t>());
  }
  std::vector<const nlohmann::json*> values;
  Flatten(j["data"], &values);
  FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  if (static_cast<int64_t>(values.size()) != t.numel()) {
    return InvalidArgument("{}: shape {} needs {} values, got {}", what, ShapeToString(shape), t.numel(),
                           values.size());
  }
  switch (dtype) {
    case DataType::kFloat:
      FERRY_RETURN_IF_ERROR(Fill<float>(values, t, what));
      break;
    case DataType::kDouble:
      FERRY_RETURN_IF_ERROR(Fill<double>(values, t, what));
      break;
    case DataType::kInt64:
      FERRY_RETURN_IF_ERROR(Fill<int64_t>(values, t, what));
      break;
    case DataType::kInt32:
      FERRY_RETURN_IF_ERROR(Fill<int32_t>(values, t, what));
      break;
    case DataType::kInt16:
      FERRY_RETURN_IF_ERROR(Fill<int16_t>(values, t, what));
      break;
    case DataType::kInt8:
      FERRY_RETURN_IF_ERROR(Fill<int8_t>(values, t, what));
      break;
    case DataType::kUInt8:
      FERRY_RETURN_IF_ERROR(Fill<uint8_t>(values, t, what));
      break;
    case DataType::kUInt16:
      FERRY_RETURN_IF_ERROR(Fill<uint16_t>(values, t, what));
      break;
    case DataType::kUInt32:
      FERRY_RETURN_IF_ERROR(Fill<uint32_t>(values, t, what));
      break;
    case DataType::kUInt64:
      FERRY_RETURN_IF_ERROR(Fill<uint64_t>(values, t, what));
      break;
    case DataType::kBool:
      FERRY_RETURN_IF_ERROR(Fill<bool>(values, t, what));
      break;
    default:
      return Unimplemented("{}: type {} is not supported in JSON", what, DataTypeName(dtype));
  }
  return t;
}

nlohmann::json TensorToJson(const Tensor& t) {
  nlohmann::json j;
  j["dtype"] = std::string(DataTypeName(t.dtype()));
  j["shape"] = t.shape();
  switch (t.dtype()) {
    case DataType::kFloat:
      j["data"] = Values<float>(t);
      break;
    case DataType::kDouble:
      j["data"] = Values<double>(t);
      break;
    case DataType::kInt64:
      j["data"] = Values<int64_t>(t);
      break;
    case DataType::kInt32:
      j["data"] = Values<int32_t>(t);
      break;
    case DataType::kInt16:
      j["data"] = Values<int16_t>(t);
      break;
    case DataType::kInt8:
      j["data"] = Values<int8_t>(t);
      break;
    case DataType::kUInt8:
      j["data"] = Values<uint8_t>(t);
      break;
    case DataType::kUInt16:
      j["data"] = Values<uint16_t>(t);
      break;
    case DataType::kUInt32:
      j["data"] = Values<uint32_t>(t);
      break;
    case DataType::kUInt64:
      j["data"] = Values<uint64_t>(t);
      break;
    case DataType::kBool:
      j["data"] = Values<bool>(t);
      break;
    default:
      j["data"] = nullptr;
      break;
  }
  return j;
}

}  // namespace ferry
