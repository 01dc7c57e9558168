// Request side of the KServe v2 codec: body (JSON header + optional binary section) to KsInferRequest, and the
// checks against the model. The response side is in kserve_response.cc.
#include "protocol/kserve_codec.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>

#include "protocol/json_util.h"

namespace ferry::protocol {
namespace {

static_assert(std::endian::native == std::endian::little, "the binary tensor extension is little-endian");

struct DatatypeEntry {
  std::string_view name;
  DataType dtype;
};
constexpr DatatypeEntry kDatatypes[] = {
    {"BOOL", DataType::kBool},     {"UINT8", DataType::kUInt8},   {"UINT16", DataType::kUInt16},
    {"UINT32", DataType::kUInt32}, {"UINT64", DataType::kUInt64}, {"INT8", DataType::kInt8},
    {"INT16", DataType::kInt16},   {"INT32", DataType::kInt32},   {"INT64", DataType::kInt64},
    {"FP16", DataType::kFloat16},  {"BF16", DataType::kBFloat16}, {"FP32", DataType::kFloat},
    {"FP64", DataType::kDouble},
};

// Triton's message shape format: "[-1,16]".
std::string CompactShape(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

Result<KsParameters> ParseParameters(const Json& j, std::string_view where) {
  if (!j.is_object()) return InvalidArgument("Unable to parse 'parameters' of {}: expected an object", where);
  KsParameters out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const Json& v = it.value();
    if (v.is_boolean()) {
      out[it.key()] = v.get<bool>();
    } else if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        out[it.key()] = static_cast<int64_t>(u);
      } else {
        out[it.key()] = static_cast<double>(u);
      }
    } else if (v.is_number_integer()) {
      out[it.key()] = v.get<int64_t>();
    } else if (v.is_number_float()) {
      out[it.key()] = v.get<double>();
    } else if (v.is_string()) {
      out[it.key()] = v.get<std::string>();
    } else {
      return InvalidArgument("parameter '{}' of {} has invalid type {}: expected a string, number or boolean", it.key(),
                             where, JsonKindName(v));
    }
  }
  return out;
}

Result<std::string> RequiredString(const Json& obj, const char* key, std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end()) return InvalidArgument("Unable to parse '{}' of {}: missing", key, where);
  if (!it->is_string()) return InvalidArgument("Unable to parse '{}' of {}: expected a string", key, where);
  return it->get<std::string>();
}

Result<Shape> ParseShape(const Json& obj, const std::string& name) {
  auto it = obj.find("shape");
  if (it == obj.end()) return InvalidArgument("Unable to parse 'shape' of input '{}': missing", name);
  if (!it->is_array()) return InvalidArgument("Unable to parse 'shape' of input '{}': expected an array", name);
  Shape shape;
  // The product of the non-zero dims must fit int64 even when another dim is 0, so that no later
  // NumElements or allocation check can overflow.
  bool overflow = false;
  int64_t product = 1;
  for (const Json& d : *it) {
    if (!d.is_number_integer() || (!d.is_number_unsigned() && d.get<int64_t>() < 0)) {
      return InvalidArgument("Unable to parse 'shape' of input '{}': dimensions must be non-negative integers, got {}",
                             name, d.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    uint64_t u = d.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      overflow = true;
      shape.push_back(std::numeric_limits<int64_t>::max());
      continue;
    }
    int64_t v = static_cast<int64_t>(u);
    shape.push_back(v);
    if (v == 0 || overflow) continue;
    if (product > std::numeric_limits<int64_t>::max() / v) {
      overflow = true;
    } else {
      product *= v;
    }
  }
  if (overflow) {
    return InvalidArgument("invalid shape {} for input '{}': causes total element count to exceed maximum size",
                           CompactShape(shape), name);
  }
  return shape;
}

// Counts the leaves of `data`, nested or flat (only the total is checked, as Triton does).
int64_t CountLeaves(const Json& data) {
  if (!data.is_array()) return 1;
  int64_t n = 0;
  for (const Json& e : data) n += CountLeaves(e);
  return n;
}

Status FillLeaves(const Json& data, DataType dtype, char* base, int64_t* index) {
  if (data.is_array()) {
    for (const Json& e : data) FERRY_RETURN_IF_ERROR(FillLeaves(e, dtype, base, index));
    return Status::Ok();
  }
  Status s = StoreJsonElement(data, dtype, base + *index * DataTypeSize(dtype));
  if (!s.ok()) return s.WithContext(fmt::format("element {}", *index));
  ++*index;
  return Status::Ok();
}

Result<std::optional<size_t>> ParseHeaderLength(std::optional<std::string_view> value, size_t body_size) {
  if (!value) return std::optional<size_t>();
  std::string_view v = *value;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  uint64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    return InvalidArgument(
        "Unable to parse Inference-Header-Content-Length, value is out of range or not a "
        "non-negative integer: '{}'",
        *value);
  }
  if (n > body_size) {
    return InvalidArgument("inference header size should be in range (0, {}), got: {}", body_size, n);
  }
  return std::optional<size_t>(static_cast<size_t>(n));
}

// Reads one input; consumes its bytes from `binary` when it is sent in binary form.
Result<KsInferInput> ParseInput(const Json& j, size_t index, bool have_binary_section, std::string_view* binary) {
  if (!j.is_object()) return InvalidArgument("Unable to parse 'inputs': element {} is not an object", index);
  KsInferInput in;
  FERRY_ASSIGN_OR_RETURN(in.name, RequiredString(j, "name", fmt::format("input {}", index)));
  const std::string where = fmt::format("input '{}'", in.name);
  FERRY_ASSIGN_OR_RETURN(in.datatype, RequiredString(j, "datatype", where));
  FERRY_ASSIGN_OR_RETURN(Shape shape, ParseShape(j, in.name));
  auto params = j.find("parameters");
  if (params != j.end()) {
    FERRY_ASSIGN_OR_RETURN(in.parameters, ParseParameters(*params, where));
  }
  FERRY_ASSIGN_OR_RETURN(DataType dtype, ParseKsDatatype(in.datatype, in.name));

  auto data = j.find("data");
  const bool has_data = data != j.end();
  const bool has_binary = params != j.end() && params->contains("binary_data_size");
  const bool has_shm = params != j.end() && params->contains("shared_memory_region");
  if (int(has_data) + int(has_binary) + int(has_shm) != 1) {
    std::string set;
    if (has_data) set += " 'data'";
    if (has_binary) set += " 'binary_data_size'";
    if (has_shm) set += " 'shared_memory_region'";
    return InvalidArgument(
        "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', "
        "'shared_memory_region' in 'parameters'. But {} (input '{}')",
        set.empty() ? std::string("no field is set") : "set" + set, in.name);
  }
  if (has_shm) return Unimplemented("input '{}': the shared memory extension is not supported", in.name);

  const int64_t numel = NumElements(shape);
  const size_t elem = DataTypeSize(dtype);
  if (has_binary) {
    const Json& size_json = (*params)["binary_data_size"];
    if (!size_json.is_number_integer() || (!size_json.is_number_unsigned() && size_json.get<int64_t>() < 0)) {
      return InvalidArgument("input '{}': 'binary_data_size' must be a non-negative integer", in.name);
    }
    if (!have_binary_section) {
      return InvalidArgument(
          "must specify valid 'Inference-Header-Content-Length' in request header and 'binary_data_size' when "
          "passing inputs in binary data format (input '{}')",
          in.name);
    }
    uint64_t size = size_json.get<uint64_t>();
    if (size > binary->size()) {
      return InvalidArgument("unexpected size for input '{}', expecting {} additional bytes but {} remain", in.name,
                             size, binary->size());
    }
    // numel * elem cannot overflow: ParseShape bounds numel by int64 and elem <= 8, checked before the multiply.
    if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / elem ||
        static_cast<uint64_t>(numel) * elem != size) {
      return InvalidArgument("input byte size mismatch for input '{}'. Expected {}, got {}", in.name,
                             static_cast<uint64_t>(numel) * elem, size);
    }
    Result<Tensor> t = Tensor::FromBytes(dtype, shape, binary->data(), size);
    if (!t.ok()) return t.status().WithContext(where);
    binary->remove_prefix(size);
    if (dtype == DataType::kBool) {
      // Kernels assume 0/1 bools; any other byte would be read as an undefined bool.
      uint8_t* p = t->as<uint8_t>();
      for (int64_t i = 0; i < numel; ++i) p[i] = p[i] ? 1 : 0;
    }
    in.tensor = std::move(t).value();
    return in;
  }

  if (dtype == DataType::kFloat16 || dtype == DataType::kBFloat16) {
    return InvalidArgument(
        "receiving {} data via JSON is not supported. Please use the binary data format for input {}", in.datatype,
        in.name);
  }
  const int64_t count = CountLeaves(*data);
  // A zero-element tensor ignores "data", as Triton does.
  if (numel != 0 && count != numel) {
    return InvalidArgument("Unable to parse 'data' of input '{}': shape {} needs {} elements but 'data' holds {}",
                           in.name, CompactShape(shape), numel, count);
  }
  Result<Tensor> t = Tensor::Allocate(dtype, shape);
  if (!t.ok()) return t.status().WithContext(where);
  if (numel != 0) {
    int64_t idx = 0;
    Status s = FillLeaves(*data, dtype, static_cast<char*>(t->data()), &idx);
    if (!s.ok()) return s.WithContext(fmt::format("Unable to parse 'data' of input '{}'", in.name));
  }
  in.tensor = std::move(t).value();
  return in;
}

Result<KsRequestedOutput> ParseOutput(const Json& j, size_t index, bool binary_default) {
  if (!j.is_object()) return InvalidArgument("Unable to parse 'outputs': element {} is not an object", index);
  KsRequestedOutput out;
  FERRY_ASSIGN_OR_RETURN(out.name, RequiredString(j, "name", fmt::format("output {}", index)));
  out.binary = binary_default;
  auto params = j.find("parameters");
  if (params == j.end()) return out;
  const std::string where = fmt::format("output '{}'", out.name);
  FERRY_ASSIGN_OR_RETURN(out.parameters, ParseParameters(*params, where));
  if (params->contains("binary_data")) {
    if (!(*params)["binary_data"].is_boolean()) {
      return InvalidArgument("{}: 'binary_data' must be a boolean", where);
    }
    out.binary = (*params)["binary_data"].get<bool>();
  }
  if (params->contains("classification")) {
    return Unimplemented("{}: the classification extension is not supported", where);
  }
  if (params->contains("shared_memory_region")) {
    return Unimplemented("{}: the shared memory extension is not supported", where);
  }
  return out;
}

// Triton's raw binary request (Inference-Header-Content-Length: 0): the whole body is the data of the model's
// only input, whose one variable dimension (if any) is deduced from the byte count. Every output comes back
// binary.
Result<KsInferRequest> DecodeRaw(std::string_view body, const std::vector<TensorSpec>& inputs) {
  if (inputs.size() != 1) {
    return InvalidArgument("Raw request must only have 1 input (found 1) to be deduced but got {} inputs",
                           inputs.size());
  }
  const TensorSpec& spec = inputs[0];
  std::string_view datatype = KsDatatypeName(spec.dtype);
  if (datatype.empty()) {
    return Unimplemented("raw input '{}' has type {}, which raw requests cannot carry", spec.name,
                         DataTypeName(spec.dtype));
  }
  int variable = 0;
  for (int64_t d : spec.shape) variable += d < 0 ? 1 : 0;
  if (!spec.has_shape || variable > 1) {
    return InvalidArgument(
        "The shape of the raw input '{}' can not be deduced because there are more than one variable-sized "
        "dimension",
        spec.name);
  }
  const uint64_t elem = DataTypeSize(spec.dtype);
  uint64_t fixed_bytes = elem;  // bytes per unit of the variable dim; 0 when a fixed dim is 0
  for (int64_t d : spec.shape) {
    if (d < 0) continue;
    if (d > 0 && fixed_bytes > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d)) {
      return InvalidArgument("raw input '{}': the model's shape {} is too large", spec.name, CompactShape(spec.shape));
    }
    fixed_bytes *= static_cast<uint64_t>(d);
  }
  Shape shape = spec.shape;
  if (variable == 1) {
    if (fixed_bytes == 0 ? !body.empty() : body.size() % fixed_bytes != 0) {
      return InvalidArgument("input byte size mismatch for raw input '{}': {} bytes is not a whole number of {}",
                             spec.name, body.size(), CompactShape(spec.shape));
    }
    for (int64_t& d : shape) {
      if (d < 0) d = fixed_bytes == 0 ? 0 : static_cast<int64_t>(body.size() / fixed_bytes);
    }
  } else if (fixed_bytes != body.size()) {
    return InvalidArgument("input byte size mismatch for input '{}'. Expected {}, got {}", spec.name, fixed_bytes,
                           body.size());
  }
  Result<Tensor> t = Tensor::FromBytes(spec.dtype, shape, body.data(), body.size());
  if (!t.ok()) return t.status().WithContext(fmt::format("raw input '{}'", spec.name));
  if (spec.dtype == DataType::kBool) {
    uint8_t* p = t->as<uint8_t>();
    for (int64_t i = 0; i < t->numel(); ++i) p[i] = p[i] ? 1 : 0;
  }
  KsInferRequest req;
  req.binary_data_output = true;
  req.inputs.push_back({spec.name, std::string(datatype), {}, std::move(t).value()});
  return req;
}

}  // namespace

std::string_view KsDatatypeName(DataType dtype) {
  for (const DatatypeEntry& e : kDatatypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "";
}

Result<DataType> ParseKsDatatype(std::string_view name, std::string_view input_name) {
  for (const DatatypeEntry& e : kDatatypes) {
    if (e.name == name) return e.dtype;
  }
  if (name == "BYTES") return Unimplemented("input '{}': BYTES tensors are not supported", input_name);
  return InvalidArgument("invalid datatype for input {}: '{}'", input_name, name);
}

Result<KsInferRequest> DecodeKsInferRequest(std::string_view body, std::optional<std::string_view> header_length,
                                            const std::vector<TensorSpec>* raw_inputs) {
  return GuardExceptions([&]() -> Result<KsInferRequest> {
    FERRY_ASSIGN_OR_RETURN(std::optional<size_t> json_size, ParseHeaderLength(header_length, body.size()));
    if (json_size == size_t{0}) {
      if (raw_inputs == nullptr) {
        return Unimplemented("raw binary infer requests (Inference-Header-Content-Length: 0) are not supported here");
      }
      return DecodeRaw(body, *raw_inputs);
    }
    std::string_view json_text = json_size ? body.substr(0, *json_size) : body;
    std::string_view binary = json_size ? body.substr(*json_size) : std::string_view();
    FERRY_ASSIGN_OR_RETURN(Json j, ParseJson(json_text));
    if (!j.is_object()) return InvalidArgument("the inference request must be a JSON object, got {}", JsonKindName(j));

    KsInferRequest req;
    if (auto it = j.find("id"); it != j.end()) {
      if (!it->is_string()) return InvalidArgument("Unable to parse 'id': expected a string");
      req.id = it->get<std::string>();
    }
    if (auto it = j.find("parameters"); it != j.end()) {
      FERRY_ASSIGN_OR_RETURN(req.parameters, ParseParameters(*it, "the request"));
      if (auto b = it->find("binary_data_output"); b != it->end()) {
        if (!b->is_boolean()) return InvalidArgument("parameter 'binary_data_output' must be a boolean");
        req.binary_data_output = b->get<bool>();
      }
    }
    auto inputs = j.find("inputs");
    if (inputs == j.end()) return InvalidArgument("Unable to parse 'inputs': missing");
    if (!inputs->is_array()) return InvalidArgument("Unable to parse 'inputs': expected an array");
    for (size_t i = 0; i < inputs->size(); ++i) {
      FERRY_ASSIGN_OR_RETURN(KsInferInput in, ParseInput((*inputs)[i], i, json_size.has_value(), &binary));
      for (const KsInferInput& prev : req.inputs) {
        if (prev.name == in.name) return InvalidArgument("input '{}' appears more than once in the request", in.name);
      }
      req.inputs.push_back(std::move(in));
    }
    if (!binary.empty()) {
      return InvalidArgument("unexpected additional input data: {} bytes after the last binary input", binary.size());
    }
    if (auto outputs = j.find("outputs"); outputs != j.end()) {
      if (!outputs->is_array()) return InvalidArgument("Unable to parse 'outputs': expected an array");
      for (size_t i = 0; i < outputs->size(); ++i) {
        FERRY_ASSIGN_OR_RETURN(KsRequestedOutput out, ParseOutput((*outputs)[i], i, req.binary_data_output));
        for (const KsRequestedOutput& prev : req.outputs) {
          if (prev.name == out.name) return InvalidArgument("output '{}' already exists in request", out.name);
        }
        req.outputs.push_back(std::move(out));
      }
    }
    return req;
  });
}

Status CheckKsRequestAgainstModel(const KsInferRequest& request, const std::vector<TensorSpec>& inputs,
                                  const std::vector<TensorSpec>& outputs, std::string_view model_name) {
  auto find = [](const std::vector<TensorSpec>& specs, const std::string& name) -> const TensorSpec* {
    for (const TensorSpec& s : specs) {
      if (s.name == name) return &s;
    }
    return nullptr;
  };
  for (const KsInferInput& in : request.inputs) {
    if (!find(inputs, in.name)) {
      return InvalidArgument("unexpected inference input '{}' for model '{}'", in.name, model_name);
    }
  }
  std::string got, missing;
  for (const KsInferInput& in : request.inputs) got += (got.empty() ? "'" : ", '") + in.name + "'";
  for (const TensorSpec& spec : inputs) {
    bool present = false;
    for (const KsInferInput& in : request.inputs) present = present || in.name == spec.name;
    if (!present) missing += (missing.empty() ? "'" : ", '") + spec.name + "'";
  }
  if (!missing.empty()) {
    return InvalidArgument(
        "expected {} inputs but got {} inputs for model '{}'. Got input(s) [{}], but missing required input(s) [{}]. "
        "Please provide all required input(s).",
        inputs.size(), request.inputs.size(), model_name, got, missing);
  }
  for (const KsInferInput& in : request.inputs) {
    const TensorSpec* spec = find(inputs, in.name);
    if (spec->dtype != in.tensor.dtype()) {
      std::string_view expected = KsDatatypeName(spec->dtype);
      return InvalidArgument("inference input '{}' data-type is '{}', but model '{}' expects '{}'", in.name,
                             in.datatype, model_name, expected.empty() ? DataTypeName(spec->dtype) : expected);
    }
    if (!ShapeMatchesSpec(*spec, in.tensor.shape())) {
      return InvalidArgument("unexpected shape for input '{}' for model '{}'. Expected {}, got {}", in.name, model_name,
                             CompactShape(spec->shape), CompactShape(in.tensor.shape()));
    }
  }
  for (const KsRequestedOutput& out : request.outputs) {
    if (!find(outputs, out.name)) {
      return InvalidArgument("unexpected inference output '{}' for model '{}'", out.name, model_name);
    }
  }
  return Status::Ok();
}

std::map<std::string, Tensor> KsInputTensors(const KsInferRequest& request) {
  std::map<std::string, Tensor> out;
  for (const KsInferInput& in : request.inputs) out[in.name] = in.tensor;
  return out;
}

}  // namespace ferry::protocol
