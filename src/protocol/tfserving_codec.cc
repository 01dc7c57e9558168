#include "protocol/tfserving_codec.h"

#include <algorithm>

#include "protocol/json_reader.h"
#include "protocol/json_util.h"
#include "protocol/json_values.h"
#include "protocol/tfserving_layout.h"

namespace ferry::protocol {
namespace {

std::string JoinNames(const std::vector<TensorSpec>& specs) {
  std::string s;
  for (size_t i = 0; i < specs.size(); ++i) s += (i ? "," : "") + specs[i].name;
  return s;
}

// A reader over a value found by the layout pass.
JsonReader ValueReader(std::string_view body, const TfsValue& v) {
  return JsonReader(v.raw, static_cast<size_t>(v.raw.data() - body.data()), v.depth);
}

// The checks TF Serving makes before filling an input's tensor, in its order: every instance's shape equals
// the first one's (`mismatch`: the first that does not), the whole shape fits the spec, the type is one JSON
// converts to. Then allocates the tensor. `batch`: the number of instances (row format), or nullopt.
// `body_bytes`: the request's size, which bounds how many values it can hold (n values take 2n - 1 characters);
// the shapes come from the first element of every list, so a request could claim more than it carries.
Result<Tensor> PrepareInput(const TensorSpec& spec, const Shape& item_shape, std::optional<size_t> batch,
                            std::optional<size_t> mismatch, const Shape& mismatch_shape, size_t body_bytes) {
  const std::string ctx = fmt::format("input '{}'", spec.name);
  if (mismatch) {
    if (NumElements(mismatch_shape) != NumElements(item_shape)) {
      return InvalidArgument("{} instance {}: Expecting tensor size: {} but got: {}", ctx, *mismatch,
                             NumElements(item_shape), NumElements(mismatch_shape));
    }
    return InvalidArgument("{} instance {}: Expecting shape {} but got: {}", ctx, *mismatch, ShapeToString(item_shape),
                           ShapeToString(mismatch_shape));
  }
  Shape shape;
  if (batch) shape.push_back(static_cast<int64_t>(*batch));
  shape.insert(shape.end(), item_shape.begin(), item_shape.end());
  if (!ShapeMatchesSpec(spec, shape)) {
    return InvalidArgument("{}: expected shape {} but got {}", ctx, ShapeToString(spec.shape), ShapeToString(shape));
  }
  if (!IsJsonReadable(spec.dtype)) {
    return Unimplemented("{}: Conversion of JSON values to type: {} is not supported", ctx, DataTypeName(spec.dtype));
  }
  if (static_cast<uint64_t>(NumElements(shape)) > (static_cast<uint64_t>(body_bytes) + 1) / 2) {
    return InvalidArgument("{}: shape {} needs {} values, more than a request of {} bytes holds", ctx,
                           ShapeToString(shape), NumElements(shape), body_bytes);
  }
  Result<Tensor> t = Tensor::Allocate(spec.dtype, shape);
  if (!t.ok()) return t.status().WithContext(ctx);
  return t;
}

// Fills instance `i` of `t` (row format) or all of it from the value at r's cursor.
Status FillInput(JsonReader* r, const TensorSpec& spec, const Shape& item_shape, Tensor* t,
                 std::optional<size_t> instance) {
  int64_t index = instance ? static_cast<int64_t>(*instance) * NumElements(item_shape) : 0;
  Status s = FillJsonDense(r, item_shape, spec.dtype, t->data(), &index);
  if (s.ok()) return s;
  return s.WithContext(instance ? fmt::format("input '{}' instance {}", spec.name, *instance)
                                : fmt::format("input '{}'", spec.name));
}

// Plain list: one input, one value per instance.
Result<Tensor> DecodePlainRows(std::string_view body, const TfsRows& rows, const TensorSpec& spec) {
  if (rows.first_object) return InvalidArgument("Expecting value/list but got object at item {}", *rows.first_object);
  FERRY_ASSIGN_OR_RETURN(
      Tensor t, PrepareInput(spec, rows.shape, rows.count, rows.first_mismatch, rows.mismatch_shape, body.size()));
  JsonReader r = ValueReader(body, rows.list);
  FERRY_RETURN_IF_ERROR(r.EnterArray());
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextElement(i, &more));
    if (!more) break;
    FERRY_RETURN_IF_ERROR(FillInput(&r, spec, rows.shape, &t, i));
  }
  return t;
}

// Index of the input called `name`, or -1.
int SpecIndex(const std::vector<TensorSpec>& specs, std::string_view name) {
  for (size_t k = 0; k < specs.size(); ++k) {
    if (specs[k].name == name) return static_cast<int>(k);
  }
  return -1;
}

// A list of objects of named inputs. Two more walks over the list (the layout pass knew no names): the
// instance checks and shapes, then the fills; TF Serving's error order is kept throughout.
Result<std::map<std::string, Tensor>> DecodeNamedRows(std::string_view body, const TfsRows& rows,
                                                      const std::vector<TensorSpec>& specs) {
  const size_t n = specs.size();
  std::vector<Shape> shapes(n);
  std::vector<std::optional<size_t>> mismatch(n);
  std::vector<Shape> mismatch_shape(n);
  // Where each instance's value of each input is, for the fills: 16 bytes for a member of at least six bytes
  // of text, so this stays within a few times the body.
  std::vector<std::string_view> values(rows.count * n);
  const int value_depth = rows.list.depth + 2;  // list, instance object
  std::vector<TfsValue> member(n);              // one instance's, reused
  std::vector<bool> seen(n);
  JsonReader r = ValueReader(body, rows.list);
  FERRY_RETURN_IF_ERROR(r.EnterArray());
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextElement(i, &more));
    if (!more) break;
    if (r.Peek() != JsonKind::kObject) {
      return InvalidArgument("Expecting object but got {} at item {}", JsonValueKindName(r), i);
    }
    std::fill(seen.begin(), seen.end(), false);
    std::optional<std::string> unknown;
    bool b64 = false;
    FERRY_RETURN_IF_ERROR(ReadTfsObject(&r, &b64, [&](std::string_view name, JsonReader* m) -> Status {
      const int k = SpecIndex(specs, name);
      if (k < 0) {
        // The first in name order, as TF Serving (and a std::map DOM) reports it.
        if (!unknown || name < *unknown) unknown = std::string(name);
        return m->SkipValue();
      }
      seen[k] = true;  // a repeated name keeps its last value, as a DOM parser does
      return ReadTfsValue(m, &member[k]);
    }));
    if (b64) return InvalidArgument("Expecting object but got object at item {}", i);
    if (unknown) return InvalidArgument("JSON object: does not have named input: {} (at item {})", *unknown, i);
    for (size_t k = 0; k < n; ++k) {
      if (!seen[k]) {
        return InvalidArgument(
            "Failed to process element: {} of 'instances' list. JSON object: keys must be equal to: "
            "{} (missing: {})",
            i, JoinNames(specs), specs[k].name);
      }
      if (i == 0) {
        shapes[k] = member[k].shape;
      } else if (!mismatch[k] && member[k].shape != shapes[k]) {
        mismatch[k] = i;
        mismatch_shape[k] = member[k].shape;
      }
      values[i * n + k] = member[k].raw;
    }
  }
  // Input by input, as TF Serving builds them: the first input's errors, fill errors included, come before
  // the second's. So fill the inputs before the first one that cannot be built, then report in order.
  std::vector<Tensor> tensors(n);
  Status prepare_error;
  size_t filled = n;
  for (size_t k = 0; k < n && filled == n; ++k) {
    Result<Tensor> t = PrepareInput(specs[k], shapes[k], rows.count, mismatch[k], mismatch_shape[k], body.size());
    if (t.ok()) {
      tensors[k] = std::move(t).value();
    } else {
      prepare_error = t.status();
      filled = k;
    }
  }
  for (size_t k = 0; k < filled; ++k) {
    for (size_t i = 0; i < rows.count; ++i) {
      JsonReader value = ValueReader(body, TfsValue{values[i * n + k], value_depth, {}, {}});
      FERRY_RETURN_IF_ERROR(FillInput(&value, specs[k], shapes[k], &tensors[k], i));
    }
  }
  if (filled < n) return prepare_error;
  std::map<std::string, Tensor> out;
  for (size_t k = 0; k < n; ++k) out[specs[k].name] = std::move(tensors[k]);
  return out;
}

Result<std::map<std::string, Tensor>> DecodeRows(std::string_view body, const TfsRows& rows,
                                                 const std::vector<TensorSpec>& specs) {
  if (!rows.is_array) return InvalidArgument("Expecting 'instances' to be an list/array");
  if (rows.count == 0) return InvalidArgument("No values in 'instances' array");
  if (rows.named) return DecodeNamedRows(body, rows, specs);
  if (specs.size() != 1) {
    return InvalidArgument(
        "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
        "tensorinfo_map (inputs: {})",
        JoinNames(specs));
  }
  std::map<std::string, Tensor> out;
  FERRY_ASSIGN_OR_RETURN(out[specs[0].name], DecodePlainRows(body, rows, specs[0]));
  return out;
}

Result<Tensor> DecodeColumn(std::string_view body, const TensorSpec& spec, const TfsValue& value) {
  FERRY_ASSIGN_OR_RETURN(Tensor t, PrepareInput(spec, value.shape, std::nullopt, std::nullopt, {}, body.size()));
  JsonReader r = ValueReader(body, value);
  FERRY_RETURN_IF_ERROR(FillInput(&r, spec, value.shape, &t, std::nullopt));
  return t;
}

Result<std::map<std::string, Tensor>> DecodeColumns(std::string_view body, const TfsColumns& columns,
                                                    const std::vector<TensorSpec>& specs) {
  std::map<std::string, Tensor> out;
  if (!columns.named) {
    if (specs.size() != 1) {
      return InvalidArgument(
          "inputs is a plain value/list, but expecting an object as multiple input tensors required as per "
          "tensorinfo_map (inputs: {})",
          JoinNames(specs));
    }
    FERRY_ASSIGN_OR_RETURN(out[specs[0].name], DecodeColumn(body, specs[0], columns.value));
    return out;
  }
  // Keys that name no input are ignored, as TF Serving does (it loops over the signature's inputs).
  std::vector<std::optional<TfsValue>> found(specs.size());
  JsonReader r = ValueReader(body, columns.value);
  bool b64;
  FERRY_RETURN_IF_ERROR(ReadTfsObject(&r, &b64, [&](std::string_view name, JsonReader* m) -> Status {
    const int k = SpecIndex(specs, name);
    if (k < 0) return m->SkipValue();
    return ReadTfsValue(m, &found[k].emplace());  // a repeated name keeps its last value
  }));
  for (size_t k = 0; k < specs.size(); ++k) {
    if (!found[k]) return InvalidArgument("Missing named input: {} in 'inputs' object.", specs[k].name);
    FERRY_ASSIGN_OR_RETURN(out[specs[k].name], DecodeColumn(body, specs[k], *found[k]));
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

struct TfsPredictBody::Layout {
  std::optional<TfsRows> rows;
  std::optional<TfsColumns> columns;
};

Result<TfsPredictBody> TfsPredictBody::Parse(std::string_view body) {
  return GuardExceptions([&]() -> Result<TfsPredictBody> {
    // One validating pass; the envelope checks follow it, so that a syntax error anywhere wins.
    TfsBodyLayout layout;
    FERRY_RETURN_IF_ERROR(ReadTfsBodyLayout(body, &layout));
    if (!layout.is_object) return InvalidArgument("Is not object");
    if (!layout.signature_is_string) return InvalidArgument("'signature_name' key must be a string value.");
    if (layout.instances && layout.inputs) {
      return InvalidArgument(
          "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist in request");
    }
    if (!layout.instances && !layout.inputs) return InvalidArgument("Missing 'inputs' or 'instances' key");
    TfsPredictBody out;
    out.signature_name_ = std::move(layout.signature_name);
    out.format_ = layout.instances ? TfsFormat::kRow : TfsFormat::kColumnar;
    out.body_ = body;
    out.layout_ = std::make_shared<const Layout>(Layout{std::move(layout.instances), std::move(layout.inputs)});
    return out;
  });
}

Result<std::map<std::string, Tensor>> TfsPredictBody::DecodeInputs(const std::vector<TensorSpec>& inputs) const {
  return GuardExceptions([&]() -> Result<std::map<std::string, Tensor>> {
    if (!layout_) return InvalidArgument("predict body was not parsed");
    if (inputs.empty()) return InvalidArgument("the model's signature has no inputs");
    if (layout_->rows) return DecodeRows(body_, *layout_->rows, inputs);
    return DecodeColumns(body_, *layout_->columns, inputs);
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
