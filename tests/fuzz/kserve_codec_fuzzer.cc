// Fuzzes the KServe v2 infer codec (src/protocol/kserve_codec, kserve_fields, kserve_response) on JSON request
// bodies (no Inference-Header-Content-Length; kserve_binary_fuzzer covers the binary extension).
//
// Properties, beyond "no crash, no UB, no leak":
//  - the copying and the aliasing decoders agree, on the status and on every tensor;
//  - a decoded request is consistent: input datatypes match their tensors, dims are non-negative, data is
//    present, bools are 0/1, names are unique;
//  - round trip: the decoded inputs encoded as a response (JSON data, or binary every other one) and sent back
//    as a request decode to the same bytes;
//  - CheckKsRequestAgainstModel is safe on any decoded request.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kserve_round_trip.h"

namespace ferry::protocol {
namespace {

TensorSpec Spec(std::string name, DataType dtype, Shape shape, bool has_shape = true) {
  return TensorSpec{std::move(name), dtype, std::move(shape), has_shape};
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::protocol;
  using ferry::DataType;
  using ferry::Result;
  auto body = std::make_shared<const std::string>(reinterpret_cast<const char*>(data), size);
  Result<KsInferRequest> copied = DecodeKsInferRequest(std::string_view(*body), std::nullopt);
  Result<KsInferRequest> aliased = DecodeKsInferRequest(body, std::nullopt);
  fuzz::CheckSameRequest(copied, aliased);
  if (!copied.ok()) return 0;
  fuzz::CheckDecodedRequest(*copied);

  static const std::vector<TensorSpec> inputs = {
      Spec("x", DataType::kFloat, {-1, 2}), Spec("y", DataType::kInt16, {-1}), Spec("z", DataType::kBool, {}, false)};
  static const std::vector<TensorSpec> outputs = {Spec("z", DataType::kFloat, {-1})};
  (void)CheckKsRequestAgainstModel(*copied, inputs, outputs, "m");

  fuzz::RoundTrips(*copied);
  return 0;
}
