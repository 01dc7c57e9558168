// Never crash on any input: every prefix of some valid bodies, and single-byte mutations of them, must come back
// as a Status (or a well-formed result), never as a crash, an exception or a mis-sized tensor. Run under
// ASan/UBSan to make this test bite.
#include <gtest/gtest.h>

#include "protocol/kserve_codec.h"
#include "protocol/tfserving_codec.h"
#include "test_util.h"

namespace ferry::protocol {
namespace {

using testing::Spec;

const char kMutations[] = {'[', ']', '{', '}', '"', '\\', '-', 'N', 'I', '\0', '9', ',', ':', 'e', '\xff'};

template <typename Fn>
void ForEachVariant(const std::string& body, Fn fn) {
  for (size_t n = 0; n <= body.size(); ++n) fn(body.substr(0, n));
  for (size_t i = 0; i < body.size(); ++i) {
    for (char c : kMutations) {
      std::string m = body;
      m[i] = c;
      fn(m);
    }
  }
}

void ExpectConsistent(const std::map<std::string, Tensor>& tensors) {
  for (const auto& [name, t] : tensors) {
    for (int64_t d : t.shape()) EXPECT_GE(d, 0) << name;
    if (t.numel() > 0) {
      EXPECT_NE(t.data(), nullptr) << name;
    }
  }
}

TEST(CodecRobustness, TfServingBodies) {
  const std::vector<TensorSpec> specs = {Spec("a", DataType::kFloat, {-1, 2}), Spec("b", DataType::kInt64, {-1})};
  const std::vector<TensorSpec> one = {Spec("x", DataType::kFloat, {-1, -1})};
  const std::string bodies[] = {
      R"({"instances": [{"a": [1.5, NaN], "b": 3}, {"a": [-Infinity, 2e3], "b": -4}]})",
      R"({"signature_name": "serving_default", "inputs": {"a": [[1, 2]], "b": [7, 8]}})",
      R"({"instances": [[1, 2], [3, 4]]})",
  };
  for (const std::string& body : bodies) {
    ForEachVariant(body, [&](const std::string& b) {
      for (const auto* s : {&specs, &one}) {
        auto r = DecodeTfsPredictRequest(b, *s);
        if (r.ok()) ExpectConsistent(r->inputs);
      }
    });
  }
}

TEST(CodecRobustness, KServeBodies) {
  const std::string json =
      R"({"id":"1","parameters":{"binary_data_output":true},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32",)"
      R"("data":[[1,2],[3,NaN]]},{"name":"y","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}}],)"
      R"("outputs":[{"name":"z","parameters":{"binary_data":false}}]})";
  const std::string body = json + std::string("\x01\x00\xff\xff", 4);
  const std::string header = std::to_string(json.size());
  ForEachVariant(body, [&](const std::string& b) {
    for (std::optional<std::string_view> h :
         {std::optional<std::string_view>(), std::optional<std::string_view>(header)}) {
      auto r = DecodeKsInferRequest(b, h);
      if (r.ok()) ExpectConsistent(KsInputTensors(*r));
    }
  });
  // Header values that do not fit the body.
  for (const char* h : {"", " ", "+1", "0x10", "18446744073709551616", "1e3", "-0", "000"}) {
    EXPECT_FALSE(DecodeKsInferRequest(body, std::string_view(h)).ok()) << h;
  }
}

}  // namespace
}  // namespace ferry::protocol
