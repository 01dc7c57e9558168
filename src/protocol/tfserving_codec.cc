#include "protocol/tfserving_codec.h"

#include <set>

#include "protocol/json_util.h"

namespace ferry::protocol {

struct TfsPredictBody::Doc {
  Json json;
};

namespace {

// {"b64": "<string>"}: TF Serving's binary-string value, which counts as a value, not as a named-input object.
bool IsB64Object(const Json& j) { return j.is_object() && j.size() == 1 && j.contains("b64") && j["b64"].is_string(); }

bool IsNamedObject(const Json& j) { return j.is_object() && !IsB64Object(j); }

// The dense shape implied by nesting: the first element at each level fixes that level's size.
Shape NestedShape(const Json& j) {
  Shape shape;
  const Json* cur = &j;
  while (cur->is_array()) {
    shape.push_back(static_cast<int64_t>(cur->size()));
    if (cur->empty()) break;
    cur = &(*cur)[0];
  }
  return shape;
}

// Writes the leaves of `v` (which must follow `shape` exactly from `level` on) at *index onwards.
Status FillDense(const Json& v, const Shape& shape, size_t level, DataType dtype, char* base, int64_t* index) {
  if (level == shape.size()) {
    if (v.is_array()) return InvalidArgument("list found at incorrect level (expected a value at depth {})", level);
    Status s = StoreJsonElement(v, dtype, base + *index * DataTypeSize(dtype));
    if (!s.ok()) return s.WithContext(fmt::format("element {}", *index));
    ++*index;
    return Status::Ok();
  }
  if (!v.is_array()) {
    return InvalidArgument("value found at incorrect level (expected a list of size {} at depth {})", shape[level],
                           level);
  }
  if (static_cast<int64_t>(v.size()) != shape[level]) {
    return InvalidArgument("Encountered list at unexpected size: {} expecting: {} at depth {} (ragged list)", v.size(),
                           shape[level], level);
  }
  for (const Json& e : v) FERRY_RETURN_IF_ERROR(FillDense(e, shape, level + 1, dtype, base, index));
  return Status::Ok();
}

// Builds the tensor of one input from its values: one per instance when `batched` (row format), else exactly
// one value holding the whole tensor.
Result<Tensor> BuildInput(const TensorSpec& spec, const std::vector<const Json*>& items, bool batched) {
  const std::string ctx = fmt::format("input '{}'", spec.name);
  Shape item_shape = NestedShape(*items[0]);
  for (size_t i = 1; i < items.size(); ++i) {
    Shape s = NestedShape(*items[i]);
    if (s == item_shape) continue;
    if (NumElements(s) != NumElements(item_shape)) {
      return InvalidArgument("{} instance {}: Expecting tensor size: {} but got: {}", ctx, i, NumElements(item_shape),
                             NumElements(s));
    }
    return InvalidArgument("{} instance {}: Expecting shape {} but got: {}", ctx, i, ShapeToString(item_shape),
                           ShapeToString(s));
  }
  Shape shape;
  if (batched) shape.push_back(static_cast<int64_t>(items.size()));
  shape.insert(shape.end(), item_shape.begin(), item_shape.end());
  if (!ShapeMatchesSpec(spec, shape)) {
    return InvalidArgument("{}: expected shape {} but got {}", ctx, ShapeToString(spec.shape), ShapeToString(shape));
  }
  if (spec.dtype == DataType::kString || spec.dtype == DataType::kFloat16 || spec.dtype == DataType::kBFloat16) {
    return Unimplemented("{}: Conversion of JSON values to type: {} is not supported", ctx, DataTypeName(spec.dtype));
  }
  Result<Tensor> t = Tensor::Allocate(spec.dtype, shape);
  if (!t.ok()) return t.status().WithContext(ctx);
  char* base = static_cast<char*>(t->data());
  int64_t index = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    Status s = FillDense(*items[i], item_shape, 0, spec.dtype, base, &index);
    if (!s.ok()) return s.WithContext(batched ? fmt::format("{} instance {}", ctx, i) : ctx);
  }
  return t;
}

std::string JoinNames(const std::vector<TensorSpec>& specs) {
  std::string s;
  for (size_t i = 0; i < specs.size(); ++i) s += (i ? "," : "") + specs[i].name;
  return s;
}

Result<std::map<std::string, Tensor>> DecodeRows(const Json& instances, const std::vector<TensorSpec>& specs) {
  if (!instances.is_array()) return InvalidArgument("Expecting 'instances' to be an list/array");
  if (instances.empty()) return InvalidArgument("No values in 'instances' array");
  std::map<std::string, Tensor> out;
  if (!IsNamedObject(instances[0])) {
    if (specs.size() != 1) {
      return InvalidArgument(
          "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
          "tensorinfo_map (inputs: {})",
          JoinNames(specs));
    }
    std::vector<const Json*> items;
    for (size_t i = 0; i < instances.size(); ++i) {
      if (IsNamedObject(instances[i])) return InvalidArgument("Expecting value/list but got object at item {}", i);
      items.push_back(&instances[i]);
    }
    FERRY_ASSIGN_OR_RETURN(out[specs[0].name], BuildInput(specs[0], items, /*batched=*/true));
    return out;
  }
  std::vector<std::vector<const Json*>> per_input(specs.size());
  for (size_t i = 0; i < instances.size(); ++i) {
    const Json& inst = instances[i];
    if (!IsNamedObject(inst)) return InvalidArgument("Expecting object but got {} at item {}", JsonKindName(inst), i);
    for (auto it = inst.begin(); it != inst.end(); ++it) {
      bool known = false;
      for (const TensorSpec& s : specs) known = known || s.name == it.key();
      if (!known) return InvalidArgument("JSON object: does not have named input: {} (at item {})", it.key(), i);
    }
    for (size_t k = 0; k < specs.size(); ++k) {
      auto it = inst.find(specs[k].name);
      if (it == inst.end()) {
        return InvalidArgument(
            "Failed to process element: {} of 'instances' list. JSON object: keys must be equal to: "
            "{} (missing: {})",
            i, JoinNames(specs), specs[k].name);
      }
      per_input[k].push_back(&*it);
    }
  }
  for (size_t k = 0; k < specs.size(); ++k) {
    FERRY_ASSIGN_OR_RETURN(out[specs[k].name], BuildInput(specs[k], per_input[k], /*batched=*/true));
  }
  return out;
}

Result<std::map<std::string, Tensor>> DecodeColumns(const Json& inputs, const std::vector<TensorSpec>& specs) {
  std::map<std::string, Tensor> out;
  if (!IsNamedObject(inputs)) {
    if (specs.size() != 1) {
      return InvalidArgument(
          "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
          "tensorinfo_map (inputs: {})",
          JoinNames(specs));
    }
    FERRY_ASSIGN_OR_RETURN(out[specs[0].name], BuildInput(specs[0], {&inputs}, /*batched=*/false));
    return out;
  }
  // Keys that name no input are ignored, as TF Serving does (it loops over the signature's inputs).
  for (const TensorSpec& spec : specs) {
    auto it = inputs.find(spec.name);
    if (it == inputs.end()) return InvalidArgument("Missing named input: {} in 'inputs' object.", spec.name);
    FERRY_ASSIGN_OR_RETURN(out[spec.name], BuildInput(spec, {&*it}, /*batched=*/false));
  }
  return out;
}

Status CheckWritable(const std::string& name, const Tensor& t) {
  if (!IsJsonWritable(t.dtype())) {
    return InvalidArgument("Failed to write JSON value for tensor type: {} (output '{}')", DataTypeName(t.dtype()),
                           name);
  }
  return Status::Ok();
}

}  // namespace

Result<TfsPredictBody> TfsPredictBody::Parse(std::string_view body) {
  return GuardExceptions([&]() -> Result<TfsPredictBody> {
    FERRY_ASSIGN_OR_RETURN(Json json, ParseJson(body));
    if (!json.is_object()) return InvalidArgument("Is not object");
    TfsPredictBody out;
    auto sig = json.find("signature_name");
    if (sig != json.end()) {
      if (!sig->is_string()) return InvalidArgument("'signature_name' key must be a string value.");
      out.signature_name_ = sig->get<std::string>();
    }
    bool has_instances = json.contains("instances");
    bool has_inputs = json.contains("inputs");
    if (has_instances && has_inputs) {
      return InvalidArgument(
          "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist in request");
    }
    if (!has_instances && !has_inputs) return InvalidArgument("Missing 'inputs' or 'instances' key");
    out.format_ = has_instances ? TfsFormat::kRow : TfsFormat::kColumnar;
    out.doc_ = std::make_shared<const Doc>(Doc{std::move(json)});
    return out;
  });
}

Result<std::map<std::string, Tensor>> TfsPredictBody::DecodeInputs(const std::vector<TensorSpec>& inputs) const {
  return GuardExceptions([&]() -> Result<std::map<std::string, Tensor>> {
    if (!doc_) return InvalidArgument("predict body was not parsed");
    if (inputs.empty()) return InvalidArgument("the model's signature has no inputs");
    if (format_ == TfsFormat::kRow) return DecodeRows(doc_->json["instances"], inputs);
    return DecodeColumns(doc_->json["inputs"], inputs);
  });
}

Result<TfsPredictRequest> DecodeTfsPredictRequest(std::string_view body, const std::vector<TensorSpec>& inputs) {
  FERRY_ASSIGN_OR_RETURN(TfsPredictBody parsed, TfsPredictBody::Parse(body));
  if (!parsed.signature_name().empty() && parsed.signature_name() != kTfsDefaultSignature) {
    return InvalidArgument("Serving signature name: \"{}\" not found in signature def", parsed.signature_name());
  }
  TfsPredictRequest req;
  req.signature_name = parsed.signature_name();
  req.format = parsed.format();
  FERRY_ASSIGN_OR_RETURN(req.inputs, parsed.DecodeInputs(inputs));
  return req;
}

Result<std::string> EncodeTfsPredictResponse(TfsFormat format, const std::map<std::string, Tensor>& outputs) {
  for (const auto& [name, t] : outputs) FERRY_RETURN_IF_ERROR(CheckWritable(name, t));
  std::string out;
  if (format == TfsFormat::kColumnar) {
    out = "{\"outputs\":";
    if (outputs.size() == 1) {
      AppendNestedJson(&out, outputs.begin()->second.view(), 0, 0);
    } else {
      out.push_back('{');
      bool first = true;
      for (const auto& [name, t] : outputs) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(&out, name);
        out.push_back(':');
        AppendNestedJson(&out, t.view(), 0, 0);
      }
      out.push_back('}');
    }
    out.push_back('}');
    return out;
  }
  int64_t batch = -1;
  for (const auto& [name, t] : outputs) {
    if (t.shape().empty()) return InvalidArgument("Tensor name: {} has no shape information", name);
    if (batch >= 0 && t.shape()[0] != batch) {
      return InvalidArgument("Tensor name: {} has inconsistent batch size: {} expecting: {}", name, t.shape()[0],
                             batch);
    }
    batch = t.shape()[0];
  }
  out = "{\"predictions\":[";
  for (int64_t r = 0; r < std::max<int64_t>(batch, 0); ++r) {
    if (r) out.push_back(',');
    if (outputs.size() > 1) out.push_back('{');
    bool first = true;
    for (const auto& [name, t] : outputs) {
      int64_t inner = NumElements(Shape(t.shape().begin() + 1, t.shape().end()));
      if (outputs.size() > 1) {
        if (!first) out.push_back(',');
        AppendJsonString(&out, name);
        out.push_back(':');
      }
      first = false;
      AppendNestedJson(&out, t.view(), 1, r * inner);
    }
    if (outputs.size() > 1) out.push_back('}');
  }
  out += "]}";
  return out;
}

std::string EncodeTfsError(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out.push_back('}');
  return out;
}

}  // namespace ferry::protocol
