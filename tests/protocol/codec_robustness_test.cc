// Never crash on any input: every prefix of some valid bodies, single-byte mutations of them, and random
// multi-byte mutations must come back as a Status (or a well-formed result), never as a crash, an exception or
// a mis-sized tensor. Run under ASan/UBSan to make this test bite. And the pull reader must agree with an
// independent parser (nlohmann's DOM) on what is JSON and what it means.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "protocol/json_reader.h"
#include "protocol/kserve_codec.h"
#include "protocol/tfserving_codec.h"
#include "test_util.h"
#include "tests/protocol/json_dom.h"

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

// Random edits: overwrite, insert or delete bytes at 1-4 random places, drawn from JSON's structural
// characters, digits, the letters of the tokens and a few invalid bytes.
std::string Mutate(const std::string& body, std::mt19937& rng) {
  static const char kAlphabet[] = "[]{}\",:-+.eE0123456789NaIfinty \\u\x01\x80\xc3\xff";
  std::string m = body;
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !m.empty(); ++e) {
    const size_t at = rng() % m.size();
    const char c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    switch (rng() % 3) {
      case 0:
        m[at] = c;
        break;
      case 1:
        m.insert(m.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        m.erase(at, 1 + rng() % 3);
    }
  }
  return m;
}

TEST(CodecRobustness, RandomMutations) {
  std::mt19937 rng(2024);
  const std::vector<TensorSpec> specs = {Spec("a", DataType::kFloat, {-1, 2}), Spec("b", DataType::kInt64, {-1})};
  const std::vector<TensorSpec> one = {Spec("x", DataType::kFloat, {-1, -1})};
  const std::vector<TensorSpec> bools = {Spec("x", DataType::kBool, {-1, 2})};
  const std::string tfs[] = {
      R"({"instances": [{"a": [1.5, NaN], "b": 3}, {"a": [-Infinity, 2e3], "b": -4}]})",
      R"({"signature_name": "serving_default", "inputs": {"a": [[1, 2]], "b": [7, 8]}})",
      R"({"instances": [[[0.123456, 0.5], [1, 2]], [[3, 4], [5, 6e-7]]]})",
      R"({"instances": [[true, false], [false, true]], "x": {"y": ["\u00e9\ud83d\ude00"]}})",
      R"({"inputs": [{"b64": "aGVsbG8="}]})",
  };
  int ok = 0;
  for (int k = 0; k < 30000; ++k) {
    const std::string b = Mutate(tfs[k % 5], rng);
    for (const auto* s : {&specs, &one, &bools}) {
      auto r = DecodeTfsPredictRequest(b, *s);
      if (r.ok()) {
        ++ok;
        ExpectConsistent(r->inputs);
      }
    }
  }
  EXPECT_GT(ok, 0);  // some mutations stay valid requests
  const std::string json =
      R"({"id":"1","parameters":{"binary_data_output":true,"t":1.5},"inputs":[{"name":"x","shape":[2,2],)"
      R"("datatype":"FP32","data":[[1,2],[3,NaN]]},{"name":"y","shape":[2],"datatype":"INT16",)"
      R"("parameters":{"binary_data_size":4}},{"name":"z","shape":[3],"datatype":"BOOL","data":[true,false,true]}],)"
      R"("outputs":[{"name":"z","parameters":{"binary_data":false}}]})";
  const std::string body = json + std::string("\x01\x00\xff\xff", 4);
  const std::string header = std::to_string(json.size());
  for (int k = 0; k < 30000; ++k) {
    auto shared = std::make_shared<const std::string>(Mutate(body, rng));
    for (std::optional<std::string_view> h :
         {std::optional<std::string_view>(), std::optional<std::string_view>(header)}) {
      auto r = DecodeKsInferRequest(std::string_view(*shared), h);
      if (r.ok()) ExpectConsistent(KsInputTensors(*r));
      auto a = DecodeKsInferRequest(shared, h);
      EXPECT_EQ(r.ok(), a.ok());
      if (a.ok()) ExpectConsistent(KsInputTensors(*a));
    }
  }
}

TEST(CodecRobustness, ReaderAgreesWithNlohmann) {
  std::mt19937 rng(99);
  const std::string docs[] = {
      R"({"a": [1, -2.5e-3, 0, -0, 1E+2, 18446744073709551615, -9223372036854775808, 123456789012345678901234],)"
      R"( "b": {"c": [true, false, null, "x\"y\\z\/\u00e9\ud83d\ude00\n"], "d": {}}, "e": []})",
      R"([[0.123456, 0.234567, 0.345678], [1e-7, 3.4028235e38, 1.7976931348623157e308], "caf\u00e9 \u20ac"])",
      "{\"k\\u0000\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"n\": [{\"m\": [[], [[]], {}]}]}",
  };
  int compared = 0, valid = 0;
  for (int k = 0; k < 60000; ++k) {
    const std::string doc = k < 3 ? docs[k] : Mutate(docs[k % 3], rng);
    // Only plain RFC 8259 documents: the non-finite tokens are ours alone.
    if (doc.find_first_of("NI") != std::string::npos) continue;
    ++compared;
    const bool theirs = nlohmann::json::accept(doc);
    Status mine = JsonReader::Validate(doc);
    ASSERT_EQ(mine.ok(), theirs) << "document: " << doc << "\nreader: " << mine.ToString();
    if (!theirs) continue;
    ++valid;
    JsonReader r(doc);
    nlohmann::json dom;
    ASSERT_TRUE(testing::JsonReaderToDom(&r, &dom).ok()) << doc;
    ASSERT_EQ(dom, nlohmann::json::parse(doc)) << doc;
  }
  EXPECT_GT(compared, 10000);
  EXPECT_GT(valid, 100);
}

}  // namespace
}  // namespace ferry::protocol
