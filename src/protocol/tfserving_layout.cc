#include "protocol/tfserving_layout.h"

#include "protocol/json_values.h"

namespace ferry::protocol {
namespace {

Status Skip(std::string_view, JsonReader* r) { return r->SkipValue(); }

Status ReadRows(JsonReader* r, TfsRows* rows) {
  r->SkipWhitespace();
  const char* start = r->cursor();
  rows->list.depth = r->depth();
  rows->is_array = r->Peek() == JsonKind::kArray;
  if (!rows->is_array) return r->SkipValue(&rows->list.raw);
  FERRY_RETURN_IF_ERROR(r->EnterArray());
  TfsValue item;  // reused for every instance
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r->NextElement(i, &more));
    if (!more) break;
    rows->count = i + 1;
    bool named = false;
    if (r->Peek() == JsonKind::kObject) {
      bool b64;
      FERRY_RETURN_IF_ERROR(ReadTfsObject(r, &b64, Skip));
      named = !b64;
      item.shape.clear();  // a b64 value has a scalar's shape
    } else {
      FERRY_RETURN_IF_ERROR(ReadTfsValue(r, &item));
    }
    if (i == 0) {
      rows->named = named;
      rows->shape = item.shape;
      continue;
    }
    if (named && !rows->first_object) rows->first_object = i;
    if (!rows->first_mismatch && item.shape != rows->shape) {
      rows->first_mismatch = i;
      rows->mismatch_shape = item.shape;
    }
  }
  rows->list.raw = std::string_view(start, r->cursor() - start);
  return Status::Ok();
}

Status ReadColumns(JsonReader* r, TfsColumns* columns) {
  r->SkipWhitespace();
  const char* start = r->cursor();
  columns->value.depth = r->depth();
  if (r->Peek() != JsonKind::kObject) return ReadTfsValue(r, &columns->value);
  columns->value.kind = "object";
  bool b64;
  FERRY_RETURN_IF_ERROR(ReadTfsObject(r, &b64, Skip));
  columns->named = !b64;
  columns->value.raw = std::string_view(start, r->cursor() - start);
  return Status::Ok();
}

}  // namespace

Status ReadTfsValue(JsonReader* r, TfsValue* value) {
  r->SkipWhitespace();
  const char* start = r->cursor();
  value->depth = r->depth();
  value->kind = JsonValueKindName(*r);
  FERRY_RETURN_IF_ERROR(ReadJsonNestedShape(r, &value->shape));
  value->raw = std::string_view(start, r->cursor() - start);
  return Status::Ok();
}

Status ReadTfsBodyLayout(std::string_view body, TfsBodyLayout* out) {
  JsonReader r(body);
  if (r.Peek() != JsonKind::kObject) return JsonReader::Validate(body);
  out->is_object = true;
  FERRY_RETURN_IF_ERROR(r.EnterObject());
  std::string key;
  for (size_t i = 0;; ++i) {
    bool more;
    FERRY_RETURN_IF_ERROR(r.NextMember(i, &more, &key));
    if (!more) break;
    if (key == "signature_name") {
      out->signature_is_string = r.Peek() == JsonKind::kString;
      FERRY_RETURN_IF_ERROR(out->signature_is_string ? r.ReadString(&out->signature_name) : r.SkipValue());
    } else if (key == "instances") {
      FERRY_RETURN_IF_ERROR(ReadRows(&r, &out->instances.emplace()));
    } else if (key == "inputs") {
      FERRY_RETURN_IF_ERROR(ReadColumns(&r, &out->inputs.emplace()));
    } else {
      FERRY_RETURN_IF_ERROR(r.SkipValue());
    }
  }
  return r.Finish();
}

}  // namespace ferry::protocol
