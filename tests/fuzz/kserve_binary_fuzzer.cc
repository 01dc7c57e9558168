// Fuzzes the KServe v2 binary tensor data extension: how DecodeKsInferRequest splits a body by its
// Inference-Header-Content-Length into the JSON header and the binary section, hands the section's bytes to the
// inputs that declare binary_data_size, and reads a raw request (header length 0) as the model's only input.
//
// Input layout (tests/fuzz/make_corpus.py writes seeds in it):
//   byte 0      control: bit 0 set = the header is present; bits 1-3 pick the model inputs a raw request is
//               decoded against (kRawSignatures)
//   [header]    when present: the header's value, up to the first '\n' (which is dropped)
//   body        the rest
//
// Properties, beyond "no crash, no UB, no leak": the copying and aliasing decoders agree; a decoded request is
// consistent (see kserve_round_trip.h); aliased tensors point into the body and are aligned; the round trip
// through the response encoder gives the same bytes back.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kserve_round_trip.h"

namespace ferry::protocol {
namespace {

TensorSpec Spec(std::string name, DataType dtype, Shape shape, bool has_shape = true) {
  return TensorSpec{std::move(name), dtype, std::move(shape), has_shape};
}

const std::vector<TensorSpec>& RawSignature(unsigned index) {
  static const auto* signatures = new std::vector<std::vector<TensorSpec>>{
      {Spec("x", DataType::kFloat, {-1, 3})},
      {Spec("x", DataType::kUInt8, {-1})},
      {Spec("x", DataType::kBool, {2, 2})},
      {Spec("x", DataType::kInt64, {-1, 0})},
      {Spec("a", DataType::kFloat, {-1}), Spec("b", DataType::kFloat, {-1})},
      {Spec("x", DataType::kDouble, {}, false)},
      {Spec("x", DataType::kFloat16, {4, -1})},
      {Spec("x", DataType::kInt32, {-1, -1})},
  };
  return (*signatures)[index % signatures->size()];
}

// A tensor that aliases the body must lie inside it, aligned to its element size.
void CheckAliasing(const KsInferRequest& req, const std::string& body) {
  for (const KsInferInput& in : req.inputs) {
    const Tensor& t = in.tensor;
    if (t.nbytes() == 0) continue;
    const char* p = static_cast<const char*>(t.data());
    if (p < body.data() || p >= body.data() + body.size()) continue;  // a copy
    FUZZ_CHECK(p + t.nbytes() <= body.data() + body.size(), "input '" + in.name + "' runs past the body");
    FUZZ_CHECK(reinterpret_cast<uintptr_t>(p) % DataTypeSize(t.dtype()) == 0, "input '" + in.name + "' misaligned");
  }
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::protocol;
  using ferry::Result;
  if (size == 0) return 0;
  const unsigned control = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::optional<std::string> header;
  if (control & 1) {
    const size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) return 0;
    header = std::string(rest.substr(0, newline));
    rest.remove_prefix(newline + 1);
  }
  std::optional<std::string_view> header_view;
  if (header) header_view = *header;
  const std::vector<TensorSpec>& raw_inputs = RawSignature(control >> 1);

  // The body alone in its own allocation, so that ASan sees any read past its end.
  auto body = std::make_shared<const std::string>(rest);
  Result<KsInferRequest> copied = DecodeKsInferRequest(std::string_view(*body), header_view, &raw_inputs);
  Result<KsInferRequest> aliased = DecodeKsInferRequest(body, header_view, &raw_inputs);
  fuzz::CheckSameRequest(copied, aliased);
  if (!copied.ok()) return 0;
  fuzz::CheckDecodedRequest(*copied);
  CheckAliasing(*aliased, *body);
  (void)CheckKsRequestAgainstModel(*aliased, raw_inputs, raw_inputs, "m");
  fuzz::RoundTrips(*aliased);
  return 0;
}
