// Fuzzes the TF Serving predict codec (src/protocol/tfserving_codec, tfserving_layout): the input is a request
// body, decoded against a few model signatures (every element type JSON can carry, fixed and symbolic dims, no
// shape at all, two inputs).
//
// Properties, beyond "no crash, no UB, no leak":
//  - TfsPredictBody::Parse + DecodeInputs and the one-shot DecodeTfsPredictRequest agree;
//  - a decoded tensor has the dtype of its spec, a shape that fits the spec, and data for every element;
//  - round trip: encoding the decoded tensors as a response and sending that back as a request ("predictions"
//    -> "instances", "outputs" -> "inputs") decodes to the same bytes (floats are written shortest round-trip).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "protocol/tfserving_codec.h"

namespace ferry::protocol {
namespace {

TensorSpec Spec(std::string name, DataType dtype, Shape shape, bool has_shape = true) {
  return TensorSpec{std::move(name), dtype, std::move(shape), has_shape};
}

const std::vector<std::vector<TensorSpec>>& Signatures() {
  static const auto* signatures = new std::vector<std::vector<TensorSpec>>{
      {Spec("x", DataType::kFloat, {-1, -1})},
      {Spec("a", DataType::kFloat, {-1, 2}), Spec("b", DataType::kInt64, {-1})},
      {Spec("x", DataType::kBool, {-1, 2})},
      {Spec("x", DataType::kDouble, {}, false)},
      {Spec("i8", DataType::kInt8, {-1}), Spec("u64", DataType::kUInt64, {-1, -1}),
       Spec("u16", DataType::kUInt16, {-1, 1, -1})},
      {Spec("x", DataType::kInt32, {2, 3})},
      {Spec("x", DataType::kFloat16, {-1})},
  };
  return *signatures;
}

void CheckDecoded(const std::vector<TensorSpec>& specs, const std::map<std::string, Tensor>& tensors) {
  FUZZ_CHECK(tensors.size() == specs.size(), "decoded " + std::to_string(tensors.size()) + " tensors");
  for (const TensorSpec& spec : specs) {
    auto it = tensors.find(spec.name);
    FUZZ_CHECK(it != tensors.end(), "input " + spec.name + " missing from the result");
    const Tensor& t = it->second;
    FUZZ_CHECK(t.dtype() == spec.dtype, spec.name + ": " + fuzz::TensorSummary(t));
    for (int64_t d : t.shape()) FUZZ_CHECK(d >= 0, spec.name + ": " + fuzz::TensorSummary(t));
    FUZZ_CHECK(ShapeMatchesSpec(spec, t.shape()), spec.name + ": " + fuzz::TensorSummary(t));
    FUZZ_CHECK(t.numel() == 0 || t.data() != nullptr, spec.name + ": no data");
  }
}

bool HasEmptyTensor(const std::map<std::string, Tensor>& tensors) {
  for (const auto& [name, t] : tensors) {
    if (t.numel() == 0) return true;
  }
  return false;
}

// The response body as a request body of the same format.
std::string ResponseAsRequest(const std::string& response) {
  static constexpr std::string_view kRow = "{\"predictions\":", kColumnar = "{\"outputs\":";
  if (response.rfind(kRow, 0) == 0) return "{\"instances\":" + response.substr(kRow.size());
  FUZZ_CHECK(response.rfind(kColumnar, 0) == 0, "unexpected response: " + response.substr(0, 64));
  return "{\"inputs\":" + response.substr(kColumnar.size());
}

void RoundTrip(const std::vector<TensorSpec>& specs, TfsFormat format, const std::map<std::string, Tensor>& tensors) {
  Result<std::string> response = EncodeTfsPredictResponse(format, tensors);
  if (format == TfsFormat::kColumnar || !HasEmptyTensor(tensors)) {
    FUZZ_CHECK(response.ok(), response.status());
  }
  if (!response.ok()) return;
  const std::string again = ResponseAsRequest(*response);
  Result<TfsPredictRequest> decoded = DecodeTfsPredictRequest(again, specs);
  if (!decoded.ok() && HasEmptyTensor(tensors)) return;  // "instances": [] and the like carry no shape
  FUZZ_CHECK(decoded.ok(), decoded.status().ToString() + "\nre-sent body: " + again.substr(0, 512));
  for (const auto& [name, t] : tensors) {
    const Tensor& u = decoded->inputs.at(name);
    FUZZ_CHECK(fuzz::SameTensor(t, u), name + ": " + fuzz::TensorSummary(t) + " came back as " +
                                           fuzz::TensorSummary(u) +
                                           " or with other values; body: " + again.substr(0, 512));
  }
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::protocol;
  using ferry::Result;
  const std::string body(reinterpret_cast<const char*>(data), size);
  Result<TfsPredictBody> parsed = TfsPredictBody::Parse(body);
  for (const std::vector<TensorSpec>& specs : Signatures()) {
    Result<TfsPredictRequest> one_shot = DecodeTfsPredictRequest(body, specs);
    if (!parsed.ok()) {
      FUZZ_CHECK(!one_shot.ok(), "Parse failed but DecodeTfsPredictRequest succeeded: " + parsed.status().ToString());
      continue;
    }
    Result<std::map<std::string, ferry::Tensor>> inputs = parsed->DecodeInputs(specs);
    const std::string& signature = parsed->signature_name();
    if (signature.empty() || signature == kTfsDefaultSignature) {
      FUZZ_CHECK(inputs.ok() == one_shot.ok(),
                 "two-step: " + inputs.status().ToString() + "\none-shot: " + one_shot.status().ToString());
    }
    if (!inputs.ok()) continue;
    CheckDecoded(specs, *inputs);
    if (one_shot.ok()) {
      FUZZ_CHECK(one_shot->format == parsed->format(), "formats differ");
      for (const auto& [name, t] : *inputs) {
        FUZZ_CHECK(ferry::fuzz::SameTensor(t, one_shot->inputs.at(name)), name + " differs between the two paths");
      }
    }
    RoundTrip(specs, parsed->format(), *inputs);
  }
  return 0;
}
