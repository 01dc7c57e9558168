#include "protocol/kserve_fields.h"

#include <limits>

#include "protocol/json_values.h"
#include "protocol/kserve_codec.h"

namespace ferry::protocol {
namespace {

// The dtype and shape an input's fields name so far, if they are usable for reading its "data" in place.
bool DataTarget(std::string_view json, const KsInputFields& in, DataType* dtype, Shape* shape) {
  if (!in.datatype || !in.shape) return false;
  JsonReader d = KsFieldReader(json, *in.datatype, kKsElementFieldDepth);
  std::string datatype;
  if (d.Peek() != JsonKind::kString || !d.ReadString(&datatype).ok()) return false;
  Result<DataType> t = ParseKsDatatype(datatype, "");
  if (!t.ok() || !IsJsonReadable(*t)) return false;
  Result<Shape> s = ParseKsShape(KsFieldReader(json, *in.shape, kKsElementFieldDepth), "");
  if (!s.ok()) return false;
  *dtype = *t;
  *shape = std::move(s).value();
  return true;
}

Status ReadInput(std::string_view json, JsonReader* r, KsInputFields* in) {
  in->is_object = r->Peek() == JsonKind::kObject;
  if (!in->is_object) return r->SkipValue();
  FERRY_RETURN_IF_ERROR(r->EnterObject());
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r->NextMember(i, &more, &key));
    if (!more) return Status::Ok();
    std::optional<std::string_view>* field = nullptr;
    if (key == "name") {
      field = &in->name;
    } else if (key == "datatype") {
      field = &in->datatype;
    } else if (key == "shape") {
      field = &in->shape;
    } else if (key == "parameters") {
      field = &in->parameters;
    } else if (key == "data") {
      field = &in->data;
    }
    if (field == nullptr) {
      FERRY_RETURN_IF_ERROR(r->SkipValue());
      continue;
    }
    r->SkipWhitespace();
    const char* start = r->cursor();
    DataType dtype;
    Shape shape;
    if (field == &in->data && DataTarget(json, *in, &dtype, &shape)) {
      FERRY_RETURN_IF_ERROR(FillKsData(r, dtype, shape, static_cast<size_t>(r->end() - start), &in->fill.emplace()));
    } else {
      if (field == &in->data) in->fill.reset();
      FERRY_RETURN_IF_ERROR(r->SkipValue());
    }
    *field = std::string_view(start, r->cursor() - start);
  }
}

}  // namespace

JsonReader KsFieldReader(std::string_view json, std::string_view raw, int depth) {
  return JsonReader(raw, static_cast<size_t>(raw.data() - json.data()), depth);
}

std::string KsCompactShape(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

Status ReadKsRequestFields(std::string_view json, KsRequestFields* out, KsInputSink* inputs) {
  JsonReader r(json);
  if (r.Peek() != JsonKind::kObject) return JsonReader::Validate(json);
  out->is_object = true;
  FERRY_RETURN_IF_ERROR(r.EnterObject());
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextMember(i, &more, &key));
    if (!more) break;
    if (key == "inputs") {
      out->has_inputs = true;
      inputs->BeginInputs();
      out->inputs_is_array = r.Peek() == JsonKind::kArray;
      if (!out->inputs_is_array) {
        FERRY_RETURN_IF_ERROR(r.SkipValue());
        continue;
      }
      FERRY_RETURN_IF_ERROR(r.EnterArray());
      for (size_t k = 0;; ++k) {
        FERRY_RETURN_IF_ERROR(r.NextElement(k, &more));
        if (!more) break;
        KsInputFields fields;
        FERRY_RETURN_IF_ERROR(ReadInput(json, &r, &fields));
        inputs->Input(k, fields);
      }
      continue;
    }
    std::optional<std::string_view>* field = key == "id"           ? &out->id
                                             : key == "parameters" ? &out->parameters
                                             : key == "outputs"    ? &out->outputs
                                                                   : nullptr;
    std::string_view raw;
    FERRY_RETURN_IF_ERROR(r.SkipValue(&raw));
    if (field != nullptr) *field = raw;
  }
  return r.Finish();
}

Result<Shape> ParseKsShape(JsonReader r, const std::string& name) {
  if (r.Peek() != JsonKind::kArray) {
    return InvalidArgument("Unable to parse 'shape' of input '{}': expected an array", name);
  }
  Shape shape;
  // The product of the non-zero dims must fit int64 even when another dim is 0, so that no later
  // NumElements or allocation check can overflow.
  bool overflow = false;
  int64_t product = 1;
  FERRY_RETURN_IF_ERROR(r.EnterArray());
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextElement(i, &more));
    if (!more) break;
    uint64_t u = 0;
    bool ok = false;
    if (r.Peek() == JsonKind::kNumber) {
      JsonReader at = r;
      JsonNumber n;
      ok = at.ReadNumber(&n).ok() && n.ToUInt64(&u);
    }
    if (!ok) {
      return InvalidArgument("Unable to parse 'shape' of input '{}': dimensions must be non-negative integers, got {}",
                             name, r.ValueForMessage());
    }
    FERRY_RETURN_IF_ERROR(r.SkipValue());
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      overflow = true;
      shape.push_back(std::numeric_limits<int64_t>::max());
      continue;
    }
    const int64_t v = static_cast<int64_t>(u);
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
                           KsCompactShape(shape), name);
  }
  return shape;
}

Status FillKsData(JsonReader* r, DataType dtype, const Shape& shape, size_t text_bytes, KsDataFill* out) {
  out->dtype = dtype;
  out->shape = shape;
  const int64_t numel = NumElements(shape);
  // A zero-element tensor ignores "data", as Triton does.
  if (numel == 0) {
    Result<Tensor> t = Tensor::Allocate(dtype, shape);
    if (t.ok()) out->tensor = std::move(t).value();
    out->allocate_error = t.status();
    return r->SkipValue();
  }
  // n values take at least 2n - 1 characters ("0,0,0"): a shape the text cannot fill allocates nothing, and the
  // fill writes every element of what it does allocate (a short fill is an error), so no zero fill is needed.
  const bool can_match = static_cast<uint64_t>(numel) <= (text_bytes + 1) / 2;
  if (can_match) {
    Result<Tensor> t = Tensor::AllocateUninitialized(dtype, shape);
    if (t.ok()) {
      out->tensor = std::move(t).value();
    } else {
      out->allocate_error = t.status();
    }
  }
  const int64_t capacity = out->tensor.defined() ? numel : 0;
  return FillJsonLeaves(r, dtype, out->tensor.data(), capacity, &out->count, &out->element_error);
}

}  // namespace ferry::protocol
