// Request side of the KServe v2 codec: body (JSON header + optional binary section) to KsInferRequest, and the
// checks against the model. The response side is in kserve_response.cc.
#include "protocol/kserve_codec.h"

#include <bit>
#include <charconv>
#include <cstring>
#include <limits>
#include <set>

#include "protocol/json_reader.h"
#include "protocol/json_util.h"
#include "protocol/json_values.h"
#include "protocol/kserve_fields.h"

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

Result<KsParameters> ParseParameters(JsonReader r, std::string_view where) {
  if (r.Peek() != JsonKind::kObject) {
    return InvalidArgument("Unable to parse 'parameters' of {}: expected an object", where);
  }
  KsParameters out;
  FERRY_RETURN_IF_ERROR(r.EnterObject());
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextMember(i, &more, &key));
    if (!more) return out;
    switch (r.Peek()) {
      case JsonKind::kBool: {
        bool b;
        FERRY_RETURN_IF_ERROR(r.ReadBool(&b));
        out[key] = b;
        break;
      }
      case JsonKind::kNumber: {
        JsonNumber n;
        FERRY_RETURN_IF_ERROR(r.ReadNumber(&n));
        int64_t v;
        if (n.ToInt64(&v)) {
          out[key] = v;
        } else {
          out[key] = n.ToDouble();  // a fraction, or an integer past int64
        }
        break;
      }
      case JsonKind::kString: {
        std::string v;
        FERRY_RETURN_IF_ERROR(r.ReadString(&v));
        out[key] = std::move(v);
        break;
      }
      default:
        return InvalidArgument("parameter '{}' of {} has invalid type {}: expected a string, number or boolean", key,
                               where, JsonValueKindName(r));
    }
  }
}

Result<std::string> RequiredString(std::string_view json, const std::optional<std::string_view>& raw, const char* key,
                                   std::string_view where) {
  if (!raw) return InvalidArgument("Unable to parse '{}' of {}: missing", key, where);
  JsonReader r = KsFieldReader(json, *raw, kKsElementFieldDepth);
  if (r.Peek() != JsonKind::kString)
    return InvalidArgument("Unable to parse '{}' of {}: expected a string", key, where);
  std::string s;
  FERRY_RETURN_IF_ERROR(r.ReadString(&s));
  return s;
}

bool Has(const KsParameters& p, const char* key) { return p.find(key) != p.end(); }

// Wraps bytes of the body as a tensor: aliasing them when the body is shared and the bytes are aligned to the
// element size (and, for BOOL, already 0/1), else copying them (once).
Result<Tensor> BinaryTensor(DataType dtype, const Shape& shape, std::string_view bytes,
                            const std::shared_ptr<const std::string>& owner) {
  const size_t elem = DataTypeSize(dtype);
  bool alias = owner != nullptr && reinterpret_cast<uintptr_t>(bytes.data()) % elem == 0;
  if (alias && dtype == DataType::kBool) {
    for (char c : bytes) alias = alias && (c == 0 || c == 1);
  }
  if (alias) return Tensor::Alias(owner, bytes.data(), dtype, shape);
  FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::FromBytes(dtype, shape, bytes.data(), bytes.size()));
  if (dtype == DataType::kBool) {
    // Kernels assume 0/1 bools; any other byte would be read as an undefined bool.
    uint8_t* p = t.as<uint8_t>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] ? 1 : 0;
  }
  return t;
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

// Checks one input's fields in Triton's order and builds its tensor; consumes its bytes from `binary` when it
// is sent in binary form.
Result<KsInferInput> ParseInput(std::string_view json, const KsInputFields& f, size_t index, bool have_binary_section,
                                std::string_view* binary, const std::shared_ptr<const std::string>& owner) {
  if (!f.is_object) return InvalidArgument("Unable to parse 'inputs': element {} is not an object", index);
  KsInferInput in;
  FERRY_ASSIGN_OR_RETURN(in.name, RequiredString(json, f.name, "name", fmt::format("input {}", index)));
  const std::string where = fmt::format("input '{}'", in.name);
  FERRY_ASSIGN_OR_RETURN(in.datatype, RequiredString(json, f.datatype, "datatype", where));
  if (!f.shape) return InvalidArgument("Unable to parse 'shape' of input '{}': missing", in.name);
  FERRY_ASSIGN_OR_RETURN(Shape shape, ParseKsShape(KsFieldReader(json, *f.shape, kKsElementFieldDepth), in.name));
  if (f.parameters) {
    FERRY_ASSIGN_OR_RETURN(in.parameters,
                           ParseParameters(KsFieldReader(json, *f.parameters, kKsElementFieldDepth), where));
  }
  FERRY_ASSIGN_OR_RETURN(DataType dtype, ParseKsDatatype(in.datatype, in.name));

  const bool has_data = f.data.has_value();
  const bool has_binary = Has(in.parameters, "binary_data_size");
  const bool has_shm = Has(in.parameters, "shared_memory_region");
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
    const int64_t* size_param = std::get_if<int64_t>(&in.parameters.at("binary_data_size"));
    if (size_param == nullptr || *size_param < 0) {
      return InvalidArgument("input '{}': 'binary_data_size' must be a non-negative integer", in.name);
    }
    if (!have_binary_section) {
      return InvalidArgument(
          "must specify valid 'Inference-Header-Content-Length' in request header and 'binary_data_size' when "
          "passing inputs in binary data format (input '{}')",
          in.name);
    }
    const uint64_t size = static_cast<uint64_t>(*size_param);
    if (size > binary->size()) {
      return InvalidArgument("unexpected size for input '{}', expecting {} additional bytes but {} remain", in.name,
                             size, binary->size());
    }
    // numel * elem cannot overflow: ParseKsShape bounds numel by int64 and elem <= 8, checked before the multiply.
    if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / elem ||
        static_cast<uint64_t>(numel) * elem != size) {
      return InvalidArgument("input byte size mismatch for input '{}'. Expected {}, got {}", in.name,
                             static_cast<uint64_t>(numel) * elem, size);
    }
    Result<Tensor> t = BinaryTensor(dtype, shape, binary->substr(0, size), owner);
    if (!t.ok()) return t.status().WithContext(where);
    binary->remove_prefix(size);
    in.tensor = std::move(t).value();
    return in;
  }

  if (dtype == DataType::kFloat16 || dtype == DataType::kBFloat16) {
    return InvalidArgument(
        "receiving {} data via JSON is not supported. Please use the binary data format for input {}", in.datatype,
        in.name);
  }
  // "data" was read during the walk unless its datatype or shape came after it (or changed, given twice).
  KsDataFill fill;
  if (f.fill && f.fill->dtype == dtype && f.fill->shape == shape) {
    fill = *f.fill;
  } else {
    JsonReader r = KsFieldReader(json, *f.data, kKsElementFieldDepth);
    FERRY_RETURN_IF_ERROR(FillKsData(&r, dtype, shape, f.data->size(), &fill));
  }
  if (!fill.allocate_error.ok()) return fill.allocate_error.WithContext(where);
  if (numel != 0 && fill.count != numel) {
    return InvalidArgument("Unable to parse 'data' of input '{}': shape {} needs {} elements but 'data' holds {}",
                           in.name, KsCompactShape(shape), numel, fill.count);
  }
  if (numel != 0 && !fill.element_error.ok()) {
    return fill.element_error.WithContext(fmt::format("Unable to parse 'data' of input '{}'", in.name));
  }
  in.tensor = std::move(fill.tensor);
  return in;
}

Result<KsRequestedOutput> ParseOutput(std::string_view json, JsonReader r, size_t index, bool binary_default) {
  if (r.Peek() != JsonKind::kObject) {
    return InvalidArgument("Unable to parse 'outputs': element {} is not an object", index);
  }
  std::optional<std::string_view> name, parameters;
  FERRY_RETURN_IF_ERROR(r.EnterObject());
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextMember(i, &more, &key));
    if (!more) break;
    std::string_view raw;
    FERRY_RETURN_IF_ERROR(r.SkipValue(&raw));
    if (key == "name") name = raw;
    if (key == "parameters") parameters = raw;
  }
  KsRequestedOutput out;
  FERRY_ASSIGN_OR_RETURN(out.name, RequiredString(json, name, "name", fmt::format("output {}", index)));
  out.binary = binary_default;
  if (!parameters) return out;
  const std::string where = fmt::format("output '{}'", out.name);
  FERRY_ASSIGN_OR_RETURN(out.parameters,
                         ParseParameters(KsFieldReader(json, *parameters, kKsElementFieldDepth), where));
  if (auto it = out.parameters.find("binary_data"); it != out.parameters.end()) {
    const bool* b = std::get_if<bool>(&it->second);
    if (b == nullptr) return InvalidArgument("{}: 'binary_data' must be a boolean", where);
    out.binary = *b;
  }
  if (Has(out.parameters, "classification")) {
    return Unimplemented("{}: the classification extension is not supported", where);
  }
  if (Has(out.parameters, "shared_memory_region")) {
    return Unimplemented("{}: the shared memory extension is not supported", where);
  }
  return out;
}

// Triton's raw binary request (Inference-Header-Content-Length: 0): the whole body is the data of the model's
// only input, whose one variable dimension (if any) is deduced from the byte count. Every output comes back
// binary.
Result<KsInferRequest> DecodeRaw(std::string_view body, const std::vector<TensorSpec>& inputs,
                                 const std::shared_ptr<const std::string>& owner) {
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
      return InvalidArgument("raw input '{}': the model's shape {} is too large", spec.name,
                             KsCompactShape(spec.shape));
    }
    fixed_bytes *= static_cast<uint64_t>(d);
  }
  Shape shape = spec.shape;
  if (variable == 1) {
    if (fixed_bytes == 0 ? !body.empty() : body.size() % fixed_bytes != 0) {
      return InvalidArgument("input byte size mismatch for raw input '{}': {} bytes is not a whole number of {}",
                             spec.name, body.size(), KsCompactShape(spec.shape));
    }
    for (int64_t& d : shape) {
      if (d < 0) d = fixed_bytes == 0 ? 0 : static_cast<int64_t>(body.size() / fixed_bytes);
    }
  } else if (fixed_bytes != body.size()) {
    return InvalidArgument("input byte size mismatch for input '{}'. Expected {}, got {}", spec.name, fixed_bytes,
                           body.size());
  }
  Result<Tensor> t = BinaryTensor(spec.dtype, shape, body, owner);
  if (!t.ok()) return t.status().WithContext(fmt::format("raw input '{}'", spec.name));
  KsInferRequest req;
  req.binary_data_output = true;
  req.inputs.push_back({spec.name, std::string(datatype), {}, std::move(t).value()});
  return req;
}

// Builds the inputs as the pass over the JSON meets them, keeping only the first error.
class InputBuilder final : public KsInputSink {
 public:
  InputBuilder(std::string_view json, std::string_view binary, bool have_binary_section,
               const std::shared_ptr<const std::string>& owner)
      : json_(json), all_binary_(binary), have_binary_section_(have_binary_section), owner_(owner) {}
  void BeginInputs() override {
    inputs.clear();
    names_.clear();
    error = Status::Ok();
    binary = all_binary_;
  }
  void Input(size_t index, const KsInputFields& fields) override {
    if (!error.ok()) return;  // the first error is the one reported; later inputs are only checked as JSON
    Result<KsInferInput> in = ParseInput(json_, fields, index, have_binary_section_, &binary, owner_);
    if (!in.ok()) {
      error = in.status();
      return;
    }
    if (!names_.insert(in->name).second) {
      error = InvalidArgument("input '{}' appears more than once in the request", in->name);
      return;
    }
    inputs.push_back(std::move(in).value());
  }
  std::vector<KsInferInput> inputs;
  Status error;
  std::string_view binary;  // what the inputs so far left of the binary section

 private:
  std::string_view json_, all_binary_;
  bool have_binary_section_;
  std::set<std::string> names_;
  const std::shared_ptr<const std::string>& owner_;
};

// Both overloads: `owner`, when set, holds `body`, and binary tensors may alias it.
Result<KsInferRequest> Decode(std::string_view body, const std::shared_ptr<const std::string>& owner,
                              std::optional<std::string_view> header_length,
                              const std::vector<TensorSpec>* raw_inputs) {
  FERRY_ASSIGN_OR_RETURN(std::optional<size_t> json_size, ParseHeaderLength(header_length, body.size()));
  if (json_size == size_t{0}) {
    if (raw_inputs == nullptr) {
      return Unimplemented("raw binary infer requests (Inference-Header-Content-Length: 0) are not supported here");
    }
    return DecodeRaw(body, *raw_inputs, owner);
  }
  std::string_view json_text = json_size ? body.substr(0, *json_size) : body;
  std::string_view binary = json_size ? body.substr(*json_size) : std::string_view();
  // One pass checks all of the JSON and reads the data in place; inputs are built as the pass meets them, and
  // every field check is reported in Triton's order after it, so that a syntax error anywhere wins.
  InputBuilder inputs(json_text, binary, json_size.has_value(), owner);
  KsRequestFields f;
  FERRY_RETURN_IF_ERROR(ReadKsRequestFields(json_text, &f, &inputs));
  if (!f.is_object) {
    return InvalidArgument("the inference request must be a JSON object, got {}",
                           JsonValueKindName(JsonReader(json_text)));
  }
  KsInferRequest req;
  if (f.id) {
    JsonReader id = KsFieldReader(json_text, *f.id, kKsTopFieldDepth);
    if (id.Peek() != JsonKind::kString) return InvalidArgument("Unable to parse 'id': expected a string");
    FERRY_RETURN_IF_ERROR(id.ReadString(&req.id));
  }
  if (f.parameters) {
    FERRY_ASSIGN_OR_RETURN(req.parameters,
                           ParseParameters(KsFieldReader(json_text, *f.parameters, kKsTopFieldDepth), "the request"));
    if (auto it = req.parameters.find("binary_data_output"); it != req.parameters.end()) {
      const bool* b = std::get_if<bool>(&it->second);
      if (b == nullptr) return InvalidArgument("parameter 'binary_data_output' must be a boolean");
      req.binary_data_output = *b;
    }
  }
  if (!f.has_inputs) return InvalidArgument("Unable to parse 'inputs': missing");
  if (!f.inputs_is_array) return InvalidArgument("Unable to parse 'inputs': expected an array");
  FERRY_RETURN_IF_ERROR(inputs.error);
  req.inputs = std::move(inputs.inputs);
  binary = inputs.binary;
  if (!binary.empty()) {
    return InvalidArgument("unexpected additional input data: {} bytes after the last binary input", binary.size());
  }
  if (f.outputs) {
    JsonReader outputs = KsFieldReader(json_text, *f.outputs, kKsTopFieldDepth);
    if (outputs.Peek() != JsonKind::kArray) return InvalidArgument("Unable to parse 'outputs': expected an array");
    FERRY_RETURN_IF_ERROR(outputs.EnterArray());
    std::set<std::string> names;
    for (size_t i = 0;; ++i) {
      bool more;
      FERRY_RETURN_IF_ERROR(outputs.NextElement(i, &more));
      if (!more) break;
      std::string_view raw;
      FERRY_RETURN_IF_ERROR(outputs.SkipValue(&raw));
      FERRY_ASSIGN_OR_RETURN(KsRequestedOutput out,
                             ParseOutput(json_text, outputs.Sub(raw), i, req.binary_data_output));
      if (!names.insert(out.name).second) {
        return InvalidArgument("output '{}' already exists in request", out.name);
      }
      req.outputs.push_back(std::move(out));
    }
  }
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
  return GuardExceptions([&]() { return Decode(body, nullptr, header_length, raw_inputs); });
}

Result<KsInferRequest> DecodeKsInferRequest(std::shared_ptr<const std::string> body,
                                            std::optional<std::string_view> header_length,
                                            const std::vector<TensorSpec>* raw_inputs) {
  if (body == nullptr) return InvalidArgument("the inference request has no body");
  return GuardExceptions([&]() { return Decode(*body, body, header_length, raw_inputs); });
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
                             KsCompactShape(spec->shape), KsCompactShape(in.tensor.shape()));
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
