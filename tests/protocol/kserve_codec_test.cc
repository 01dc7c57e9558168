// KServe v2 infer codec: hand-written bodies (from required_api.md, Triton's QA and the binary extension doc) and
// hand-computed tensors and bytes.
#include "protocol/kserve_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "test_util.h"

namespace ferry::protocol {
namespace {

using testing::BoolValues;
using testing::Spec;
using testing::Values;

Result<KsInferRequest> Decode(std::string_view body) { return DecodeKsInferRequest(body, std::nullopt); }

// One input named x of `datatype` and `shape` with the given data JSON.
std::string OneInput(std::string_view datatype, std::string_view shape, std::string_view data) {
  return fmt::format(R"({{"inputs":[{{"name":"x","datatype":"{}","shape":{},"data":{}}}]}})", datatype, shape, data);
}

TEST(KsDecode, SpecExample) {
  // required_api.md's example, with the BOOL data fixed to match its shape (ambiguity A9).
  auto r = Decode(R"({ "id" : "42",
    "inputs" : [ { "name" : "input0", "shape" : [ 2, 2 ], "datatype" : "UINT32", "data" : [ 1, 2, 3, 4 ] },
                 { "name" : "input1", "shape" : [ 3 ], "datatype" : "BOOL", "data" : [ true, false, true ] } ],
    "outputs" : [ { "name" : "output0" } ] })");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "42");
  ASSERT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->inputs[0].name, "input0");
  EXPECT_EQ(r->inputs[0].datatype, "UINT32");
  EXPECT_EQ(r->inputs[0].tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<uint32_t>(r->inputs[0].tensor), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(BoolValues(r->inputs[1].tensor), (std::vector<uint8_t>{1, 0, 1}));
  ASSERT_EQ(r->outputs.size(), 1u);
  EXPECT_EQ(r->outputs[0].name, "output0");
  EXPECT_FALSE(r->outputs[0].binary);
  auto tensors = KsInputTensors(*r);
  EXPECT_EQ(tensors.size(), 2u);
  EXPECT_EQ(tensors.at("input1").shape(), (Shape{3}));
}

TEST(KsDecode, NestedAndFlatDataAreTheSame) {
  auto nested = Decode(OneInput("INT32", "[2,2]", "[[1,2],[4,5]]"));
  auto flat = Decode(OneInput("INT32", "[2,2]", "[1,2,4,5]"));
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(Values<int32_t>(nested->inputs[0].tensor), (std::vector<int32_t>{1, 2, 4, 5}));
  EXPECT_EQ(Values<int32_t>(flat->inputs[0].tensor), (std::vector<int32_t>{1, 2, 4, 5}));
  // Only the total count is checked, as Triton does.
  auto odd = Decode(OneInput("INT32", "[4]", "[[1,2,3],[4]]"));
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(Values<int32_t>(odd->inputs[0].tensor), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(KsDecode, FloatsAcceptIntegersAndNonFiniteTokens) {
  auto r = Decode(OneInput("FP32", "[1,4]", "[1, 2.5, NaN, -Infinity]"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto v = Values<float>(r->inputs[0].tensor);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], 2.5f);
  EXPECT_TRUE(std::isnan(v[2]));
  EXPECT_EQ(v[3], -std::numeric_limits<float>::infinity());
  auto d = Decode(OneInput("FP64", "[2]", "[0.1, 1e300]"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Values<double>(d->inputs[0].tensor), (std::vector<double>{0.1, 1e300}));
}

TEST(KsDecode, EveryIntegerDatatype) {
  struct Case {
    const char* datatype;
    const char* data;
  };
  for (Case c :
       {Case{"INT8", "[-128,127]"}, Case{"INT16", "[-32768,32767]"}, Case{"INT32", "[-2147483648,1]"},
        Case{"INT64", "[-9223372036854775808,9223372036854775807]"}, Case{"UINT8", "[0,255]"},
        Case{"UINT16", "[0,65535]"}, Case{"UINT32", "[0,4294967295]"}, Case{"UINT64", "[0,18446744073709551615]"}}) {
    auto r = Decode(OneInput(c.datatype, "[2]", c.data));
    EXPECT_TRUE(r.ok()) << c.datatype << ": " << r.status().ToString();
  }
  auto r = Decode(OneInput("INT64", "[2]", "[-9223372036854775808,9223372036854775807]"));
  EXPECT_EQ(Values<int64_t>(r->inputs[0].tensor),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}));
  auto u = Decode(OneInput("UINT64", "[1]", "[18446744073709551615]"));
  EXPECT_EQ(Values<uint64_t>(u->inputs[0].tensor), (std::vector<uint64_t>{18446744073709551615ull}));
}

TEST(KsDecode, ZeroElementsAndScalars) {
  auto r = Decode(OneInput("FP32", "[0,3]", "[]"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].tensor.shape(), (Shape{0, 3}));
  auto s = Decode(OneInput("FP32", "[]", "[7]"));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->inputs[0].tensor.shape(), Shape{});
  EXPECT_EQ(Values<float>(s->inputs[0].tensor), (std::vector<float>{7}));
}

TEST(KsDecode, ParametersAndOutputs) {
  auto r =
      Decode(R"({"parameters": {"binary_data_output": true, "s": "v", "n": 3, "f": 0.5, "big": 18446744073709551615},
    "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": {"note": "hi"}}],
    "outputs": [{"name": "a"}, {"name": "b", "parameters": {"binary_data": false}}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->binary_data_output);
  EXPECT_EQ(std::get<std::string>(r->parameters.at("s")), "v");
  EXPECT_EQ(std::get<int64_t>(r->parameters.at("n")), 3);
  EXPECT_EQ(std::get<double>(r->parameters.at("f")), 0.5);
  EXPECT_EQ(std::get<double>(r->parameters.at("big")), 18446744073709551615.0);
  EXPECT_EQ(std::get<std::string>(r->inputs[0].parameters.at("note")), "hi");
  ASSERT_EQ(r->outputs.size(), 2u);
  EXPECT_TRUE(r->outputs[0].binary);   // inherits binary_data_output
  EXPECT_FALSE(r->outputs[1].binary);  // its own binary_data wins
  EXPECT_EQ(r->id, "");
}

TEST(KsDecode, EnvelopeErrors) {
  EXPECT_INVALID(Decode(""), "JSON Parse error: The document is empty");
  EXPECT_INVALID(Decode("{\"inputs\": ["), "JSON Parse error");
  EXPECT_INVALID(Decode("[1]"), "the inference request must be a JSON object");
  EXPECT_INVALID(Decode("{}"), "Unable to parse 'inputs': missing");
  EXPECT_INVALID(Decode(R"({"inputs": {"name": "x"}})"), "Unable to parse 'inputs': expected an array");
  EXPECT_INVALID(Decode(R"({"inputs": [1]})"), "Unable to parse 'inputs': element 0 is not an object");
  EXPECT_INVALID(Decode(R"({"id": 42, "inputs": []})"), "Unable to parse 'id': expected a string");
  EXPECT_INVALID(Decode(R"({"parameters": [1], "inputs": []})"), "expected an object");
  EXPECT_INVALID(Decode(R"({"parameters": {"p": {"a": 1}}, "inputs": []})"),
                 "parameter 'p' of the request has invalid type");
  EXPECT_INVALID(Decode(R"({"parameters": {"binary_data_output": 1}, "inputs": []})"),
                 "'binary_data_output' must be a boolean");
  EXPECT_INVALID(Decode(R"({"inputs": [], "outputs": {}})"), "Unable to parse 'outputs': expected an array");
  EXPECT_INVALID(Decode(R"({"inputs": [], "outputs": [{"parameters": {}}]})"), "Unable to parse 'name' of output 0");
  EXPECT_INVALID(Decode(R"({"inputs": [], "outputs": [{"name": "a"}, {"name": "a"}]})"),
                 "output 'a' already exists in request");
  EXPECT_INVALID(Decode(R"({"inputs": [], "outputs": [{"name": "a", "parameters": {"binary_data": "yes"}}]})"),
                 "'binary_data' must be a boolean");
  EXPECT_STATUS(Decode(R"({"inputs": [], "outputs": [{"name": "a", "parameters": {"classification": 2}}]})"),
                StatusCode::kUnimplemented, "classification extension is not supported");
  std::string deep = OneInput("FP32", "[1]", std::string(120, '[') + "1" + std::string(120, ']'));
  EXPECT_INVALID(Decode(deep), "JSON nesting depth exceeds maximum allowed limit (100)");
}

TEST(KsDecode, InputFieldErrors) {
  EXPECT_INVALID(Decode(R"({"inputs": [{"datatype": "FP32", "shape": [1], "data": [1]}]})"),
                 "Unable to parse 'name' of input 0: missing");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": 3, "datatype": "FP32", "shape": [1], "data": [1]}]})"),
                 "Unable to parse 'name' of input 0: expected a string");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": "x", "shape": [1], "data": [1]}]})"),
                 "Unable to parse 'datatype' of input 'x': missing");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]})"),
                 "Unable to parse 'shape' of input 'x': missing");
  EXPECT_INVALID(Decode(OneInput("FP32", "3", "[1]")), "Unable to parse 'shape' of input 'x': expected an array");
  EXPECT_INVALID(Decode(OneInput("FP32", "[-1]", "[1]")), "dimensions must be non-negative integers, got -1");
  EXPECT_INVALID(Decode(OneInput("FP32", "[1.5]", "[1]")), "dimensions must be non-negative integers, got 1.5");
  EXPECT_INVALID(Decode(OneInput("FP32", "[\"2\"]", "[1]")), "dimensions must be non-negative integers");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]})"),
                 "Input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters', "
                 "'shared_memory_region' in 'parameters'. But no field is set");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1],
                                        "parameters": {"binary_data_size": 4}}]})"),
                 "But set 'data' 'binary_data_size'");
  EXPECT_STATUS(Decode(R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1],
                                       "parameters": {"shared_memory_region": "r"}}]})"),
                StatusCode::kUnimplemented, "shared memory extension is not supported");
  EXPECT_INVALID(Decode(R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]},
                                       {"name": "x", "datatype": "FP32", "shape": [1], "data": [2]}]})"),
                 "input 'x' appears more than once");
}

TEST(KsDecode, DatatypeErrors) {
  EXPECT_INVALID(Decode(OneInput("int32", "[1]", "[1]")), "invalid datatype for input x");
  EXPECT_INVALID(Decode(OneInput("FLOAT32", "[1]", "[1]")), "invalid datatype for input x");
  EXPECT_STATUS(Decode(OneInput("BYTES", "[1]", "[\"abc\"]")), StatusCode::kUnimplemented,
                "BYTES tensors are not supported");
  EXPECT_INVALID(Decode(OneInput("FP16", "[1]", "[1.0]")), "receiving FP16 data via JSON is not supported");
  EXPECT_INVALID(Decode(OneInput("BF16", "[1]", "[1.0]")), "receiving BF16 data via JSON is not supported");
}

TEST(KsDecode, CountAndElementErrors) {
  EXPECT_INVALID(Decode(OneInput("INT32", "[2,2]", "[1,2,3]")),
                 "Unable to parse 'data' of input 'x': shape [2,2] needs 4 elements but 'data' holds 3");
  EXPECT_INVALID(Decode(OneInput("INT32", "[2,2]", "[[1,2],[3,4],[5]]")), "needs 4 elements but 'data' holds 5");
  EXPECT_INVALID(Decode(OneInput("INT32", "[2]", "[1, 1.5]")),
                 "Unable to parse 'data' of input 'x': element 1: JSON value 1.5 of kind number is not of expected "
                 "type: int32");
  EXPECT_INVALID(Decode(OneInput("INT32", "[1]", "[1.0]")), "not of expected type: int32");
  EXPECT_INVALID(Decode(OneInput("FP32", "[1]", "[\"a\"]")), "not of expected type: float");
  EXPECT_INVALID(Decode(OneInput("BOOL", "[2]", "[true, 1]")), "element 1: JSON value 1 of kind integer");
  EXPECT_INVALID(Decode(OneInput("UINT8", "[1]", "[256]")), "JSON value 256 is out of range for type: uint8");
  EXPECT_INVALID(Decode(OneInput("UINT32", "[1]", "[-1]")), "JSON value -1 is out of range for type: uint32");
  EXPECT_INVALID(Decode(OneInput("INT64", "[1]", "[9223372036854775808]")), "out of range for type: int64");
  EXPECT_INVALID(Decode(OneInput("FP32", "[1]", "[null]")), "of kind null is not of expected type");
}

TEST(KsDecode, HugeShapesAreRefusedWithoutAllocating) {
  EXPECT_INVALID(Decode(OneInput("FP32", "[4611686018427387904, 4]", "[1]")),
                 "causes total element count to exceed maximum size");
  EXPECT_INVALID(Decode(OneInput("FP32", "[18446744073709551615]", "[1]")),
                 "causes total element count to exceed maximum size");
  // A zero dim does not excuse an overflowing product of the others.
  EXPECT_INVALID(Decode(OneInput("FP32", "[0, 4294967296, 4294967296]", "[]")),
                 "causes total element count to exceed maximum size");
  // Fits int64 but the data does not match: caught by the count check, nothing allocated.
  EXPECT_INVALID(Decode(OneInput("FP32", "[1000000000000, 1000000]", "[1]")), "but 'data' holds 1");
}

// JSON header + raw bytes, as tritonclient sends them.
struct BinaryBody {
  std::string body;
  std::string header;
};
BinaryBody MakeBinary(const std::string& json, const std::string& bytes) {
  return {json + bytes, std::to_string(json.size())};
}

std::string Bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

TEST(KsBinary, ExtensionDocExample) {
  const uint32_t input0[4] = {1, 2, 3, 0xdeadbeef};
  const uint8_t input1[3] = {1, 0, 7};  // 7 is normalised to true
  auto b = MakeBinary(
      R"({"model_name":"mymodel","inputs":[{"name":"input0","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":16}},)"
      R"({"name":"input1","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}}],)"
      R"("outputs":[{"name":"output0","parameters":{"binary_data":true}}]})",
      Bytes(input0, 16) + Bytes(input1, 3));
  auto r = DecodeKsInferRequest(b.body, b.header);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Values<uint32_t>(r->inputs[0].tensor), (std::vector<uint32_t>{1, 2, 3, 0xdeadbeef}));
  EXPECT_EQ(r->inputs[0].tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ(BoolValues(r->inputs[1].tensor), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_TRUE(r->outputs[0].binary);
}

TEST(KsBinary, MixedJsonAndBinaryAndFp16) {
  const uint16_t half[2] = {0x3c00, 0xc000};  // 1.0, -2.0
  auto b = MakeBinary(R"({"inputs":[{"name":"a","shape":[1],"datatype":"INT64","data":[5]},)"
                      R"({"name":"h","shape":[2],"datatype":"FP16","parameters":{"binary_data_size":4}}]})",
                      Bytes(half, 4));
  auto r = DecodeKsInferRequest(b.body, " " + b.header + " ");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Values<int64_t>(r->inputs[0].tensor), (std::vector<int64_t>{5}));
  EXPECT_EQ(r->inputs[1].tensor.dtype(), DataType::kFloat16);
  EXPECT_EQ(r->inputs[1].tensor.as<uint16_t>()[1], 0xc000);
  // A header equal to the whole length is a plain JSON request (the C++ client always sends it).
  std::string json = OneInput("FP32", "[1]", "[1]");
  EXPECT_TRUE(DecodeKsInferRequest(json, std::to_string(json.size())).ok());
}

TEST(KsBinary, Errors) {
  const float f[2] = {1, 2};
  const std::string json2 =
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  auto ok = MakeBinary(json2, Bytes(f, 8));
  EXPECT_INVALID(DecodeKsInferRequest(ok.body, std::to_string(ok.body.size() + 1)),
                 "inference header size should be in range (0, " + std::to_string(ok.body.size()) + ")");
  EXPECT_INVALID(DecodeKsInferRequest(ok.body, "abc"), "Unable to parse Inference-Header-Content-Length");
  EXPECT_INVALID(DecodeKsInferRequest(ok.body, "-5"), "Unable to parse Inference-Header-Content-Length");
  EXPECT_INVALID(DecodeKsInferRequest(ok.body, "99999999999999999999999"),
                 "Unable to parse Inference-Header-Content-Length");
  EXPECT_STATUS(DecodeKsInferRequest(ok.body, "0"), StatusCode::kUnimplemented, "raw binary infer requests");
  // Too few bytes, too many bytes, size that does not match the shape, binary without the header.
  auto short_body = MakeBinary(json2, Bytes(f, 6));
  EXPECT_INVALID(DecodeKsInferRequest(short_body.body, short_body.header),
                 "unexpected size for input 'x', expecting 8 additional bytes but 6 remain");
  auto long_body = MakeBinary(json2, Bytes(f, 8) + "xy");
  EXPECT_INVALID(DecodeKsInferRequest(long_body.body, long_body.header), "unexpected additional input data: 2 bytes");
  auto mismatch = MakeBinary(
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}]})", Bytes(f, 4));
  EXPECT_INVALID(DecodeKsInferRequest(mismatch.body, mismatch.header),
                 "input byte size mismatch for input 'x'. Expected 8, got 4");
  EXPECT_INVALID(Decode(json2), "must specify valid 'Inference-Header-Content-Length'");
  auto negative =
      MakeBinary(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":-8}}]})", "");
  EXPECT_INVALID(DecodeKsInferRequest(negative.body + "12345678", negative.header),
                 "'binary_data_size' must be a non-negative integer");
  auto huge = MakeBinary(
      R"({"inputs":[{"name":"x","shape":[2305843009213693952],"datatype":"FP64","parameters":{"binary_data_size":8}}]})",
      Bytes(f, 8));
  EXPECT_INVALID(DecodeKsInferRequest(huge.body, huge.header), "input byte size mismatch for input 'x'");
}

// A binary request whose JSON header is padded with spaces to `align` bytes plus `skew`.
struct SharedBinary {
  std::shared_ptr<const std::string> body;
  std::string header;
  size_t json_size;
};
SharedBinary MakeShared(std::string json, const std::string& bytes, size_t align, size_t skew) {
  while (json.size() % align != skew) json.push_back(' ');
  return {std::make_shared<const std::string>(json + bytes), std::to_string(json.size()), json.size()};
}

TEST(KsBinary, SharedBodyIsAliasedNotCopied) {
  const double x[2] = {1.5, -2.0};
  const uint8_t ok_bools[2] = {1, 0};
  const uint8_t odd_bools[2] = {2, 0};
  auto b = MakeShared(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP64","parameters":{"binary_data_size":16}},)"
                      R"({"name":"b","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}},)"
                      R"({"name":"c","shape":[2],"datatype":"BOOL","parameters":{"binary_data_size":2}}]})",
                      Bytes(x, 16) + Bytes(ok_bools, 2) + Bytes(odd_bools, 2), 16, 0);
  const char* base = b.body->data();
  ASSERT_EQ(reinterpret_cast<uintptr_t>(base) % 16, 0u) << "operator new aligns to 16 bytes";
  std::weak_ptr<const std::string> weak = b.body;
  auto r = DecodeKsInferRequest(b.body, b.header);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs[0].tensor.data(), base + b.json_size);  // no copy
  EXPECT_EQ(Values<double>(r->inputs[0].tensor), (std::vector<double>{1.5, -2.0}));
  EXPECT_EQ(r->inputs[1].tensor.data(), base + b.json_size + 16);  // 0/1 bools: no copy
  EXPECT_EQ(BoolValues(r->inputs[1].tensor), (std::vector<uint8_t>{1, 0}));
  // A bool byte other than 0/1 must be normalised, so that input is copied (once).
  EXPECT_NE(r->inputs[2].tensor.data(), base + b.json_size + 18);
  EXPECT_EQ(BoolValues(r->inputs[2].tensor), (std::vector<uint8_t>{1, 0}));
  // The tensors keep the body alive after the caller lets go of it.
  b.body.reset();
  EXPECT_FALSE(weak.expired());
  Tensor kept = r->inputs[0].tensor;
  r = Result<KsInferRequest>(InvalidArgument("dropped"));
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(kept.as<double>()[1], -2.0);
  kept = Tensor();
  EXPECT_TRUE(weak.expired());
}

TEST(KsBinary, MisalignedOrUnsharedBytesAreCopiedOnce) {
  const float f[3] = {1, 2, 3};
  const std::string json =
      R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP32","parameters":{"binary_data_size":12}}]})";
  // Header length 1 mod 4: the floats are not 4-byte aligned in the body, so they are copied.
  auto skewed = MakeShared(json, Bytes(f, 12), 4, 1);
  auto r = DecodeKsInferRequest(skewed.body, skewed.header);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(r->inputs[0].tensor.data(), skewed.body->data() + skewed.json_size);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(r->inputs[0].tensor.data()) % 64, 0u);
  EXPECT_EQ(Values<float>(r->inputs[0].tensor), (std::vector<float>{1, 2, 3}));
  // The string_view overload never aliases: the body need not outlive the call.
  auto aligned = MakeShared(json, Bytes(f, 12), 16, 0);
  auto copied = DecodeKsInferRequest(std::string_view(*aligned.body), aligned.header);
  ASSERT_TRUE(copied.ok());
  EXPECT_NE(copied->inputs[0].tensor.data(), aligned.body->data() + aligned.json_size);
  EXPECT_EQ(Values<float>(copied->inputs[0].tensor), (std::vector<float>{1, 2, 3}));
  // A raw request (Inference-Header-Content-Length: 0) aliases the whole body.
  const std::vector<TensorSpec> model = {Spec("x", DataType::kFloat, {-1})};
  auto raw_body = std::make_shared<const std::string>(Bytes(f, 12));
  auto raw = DecodeKsInferRequest(raw_body, "0", &model);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->inputs[0].tensor.data(), raw_body->data());
  EXPECT_EQ(raw->inputs[0].tensor.shape(), (Shape{3}));
  EXPECT_INVALID(DecodeKsInferRequest(std::shared_ptr<const std::string>(), std::nullopt), "has no body");
}

TEST(TensorAlias, Contract) {
  auto owner = std::make_shared<std::vector<int32_t>>(std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  std::weak_ptr<std::vector<int32_t>> weak = owner;
  auto t = Tensor::Alias(owner, owner->data() + 2, DataType::kInt32, {2, 2});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(Values<int32_t>(*t), (std::vector<int32_t>{3, 4, 5, 6}));
  Tensor reshaped = t->Reshaped({4});
  Tensor clone = t->Clone();
  EXPECT_NE(clone.data(), t->data());
  EXPECT_EQ(Values<int32_t>(clone), (std::vector<int32_t>{3, 4, 5, 6}));
  owner.reset();
  EXPECT_FALSE(weak.expired());  // kept by the aliases
  t = Result<Tensor>(InvalidArgument("dropped"));
  EXPECT_FALSE(weak.expired());  // still kept by `reshaped`
  reshaped = Tensor();
  EXPECT_TRUE(weak.expired());  // the clone owns its own copy
  EXPECT_EQ(clone.as<int32_t>()[3], 6);

  auto bytes = std::make_shared<std::string>(16, '\0');
  EXPECT_INVALID(Tensor::Alias(bytes, bytes->data() + 1, DataType::kInt32, {1}), "not aligned to 4 bytes");
  EXPECT_INVALID(Tensor::Alias(bytes, bytes->data(), DataType::kInt32, {-1}), "negative dimension");
  EXPECT_INVALID(Tensor::Alias(bytes, nullptr, DataType::kInt32, {1}), "without data");
  EXPECT_TRUE(Tensor::Alias(bytes, nullptr, DataType::kInt32, {0}).ok());
  EXPECT_FALSE(Tensor::Alias(bytes, bytes->data(), DataType::kString, {1}).ok());
}

TEST(KsBinary, RawRequest) {
  const std::vector<TensorSpec> model = {Spec("x", DataType::kFloat, {-1, 2})};
  const float f[4] = {1, 2, 3, 4};
  auto r = DecodeKsInferRequest(Bytes(f, 16), "0", &model);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].name, "x");
  EXPECT_EQ(r->inputs[0].datatype, "FP32");
  EXPECT_EQ(r->inputs[0].tensor.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(r->inputs[0].tensor), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_TRUE(r->binary_data_output);
  // A fixed shape takes exactly its bytes.
  const std::vector<TensorSpec> fixed = {Spec("x", DataType::kFloat, {2})};
  EXPECT_TRUE(DecodeKsInferRequest(Bytes(f, 8), "0", &fixed).ok());
  EXPECT_INVALID(DecodeKsInferRequest(Bytes(f, 12), "0", &fixed), "Expected 8, got 12");
  EXPECT_INVALID(DecodeKsInferRequest(Bytes(f, 12), "0", &model), "12 bytes is not a whole number of [-1,2]");
  const std::vector<TensorSpec> two_var = {Spec("x", DataType::kFloat, {-1, -1})};
  EXPECT_INVALID(DecodeKsInferRequest(Bytes(f, 16), "0", &two_var),
                 "can not be deduced because there are more than one variable-sized dimension");
  const std::vector<TensorSpec> two_inputs = {Spec("a", DataType::kFloat, {2}), Spec("b", DataType::kFloat, {2})};
  EXPECT_INVALID(DecodeKsInferRequest(Bytes(f, 16), "0", &two_inputs),
                 "Raw request must only have 1 input (found 1) to be deduced but got 2 inputs");
  EXPECT_STATUS(DecodeKsInferRequest(Bytes(f, 16), "0"), StatusCode::kUnimplemented, "raw binary infer requests");
}

TEST(KsCheck, AgainstModel) {
  // Triton's "simple" model: INT32 INPUT0/INPUT1 [-1,16], outputs OUTPUT0/OUTPUT1.
  const std::vector<TensorSpec> inputs = {Spec("INPUT0", DataType::kInt32, {-1, 16}),
                                          Spec("INPUT1", DataType::kInt32, {-1, 16})};
  const std::vector<TensorSpec> outputs = {Spec("OUTPUT0", DataType::kInt32, {-1, 16}),
                                           Spec("OUTPUT1", DataType::kInt32, {-1, 16})};
  auto make = [](const std::string& in0_type, const std::string& in0_shape, int n0, bool with_in1,
                 const std::string& extra) {
    std::string zeros0 = "[" + std::string(n0 > 0 ? "0" : "");
    for (int i = 1; i < n0; ++i) zeros0 += ",0";
    zeros0 += "]";
    std::string zeros16 = "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]";
    std::string body = R"({"inputs":[{"name":"INPUT0","datatype":")" + in0_type + R"(","shape":)" + in0_shape +
                       R"(,"data":)" + zeros0 + "}";
    if (with_in1) body += R"(,{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":)" + zeros16 + "}";
    body += "]" + extra + "}";
    return Decode(body).value();
  };
  EXPECT_TRUE(CheckKsRequestAgainstModel(make("INT32", "[1,16]", 16, true, ""), inputs, outputs, "simple").ok());
  EXPECT_INVALID(CheckKsRequestAgainstModel(make("INT32", "[1,16]", 16, false, ""), inputs, outputs, "simple"),
                 "expected 2 inputs but got 1 inputs for model 'simple'. Got input(s) ['INPUT0'], but missing "
                 "required input(s) ['INPUT1']. Please provide all required input(s).");
  EXPECT_INVALID(CheckKsRequestAgainstModel(make("FP32", "[1,16]", 16, true, ""), inputs, outputs, "simple"),
                 "inference input 'INPUT0' data-type is 'FP32', but model 'simple' expects 'INT32'");
  EXPECT_INVALID(CheckKsRequestAgainstModel(make("INT32", "[1,8]", 8, true, ""), inputs, outputs, "simple"),
                 "unexpected shape for input 'INPUT0' for model 'simple'. Expected [-1,16], got [1,8]");
  EXPECT_INVALID(CheckKsRequestAgainstModel(make("INT32", "[16]", 16, true, ""), inputs, outputs, "simple"),
                 "Expected [-1,16], got [16]");
  EXPECT_INVALID(CheckKsRequestAgainstModel(make("INT32", "[1,16]", 16, true, R"(,"outputs":[{"name":"OUT9"}])"),
                                            inputs, outputs, "simple"),
                 "unexpected inference output 'OUT9' for model 'simple'");
  auto extra = Decode(R"({"inputs":[{"name":"INPUT2","datatype":"INT32","shape":[1],"data":[1]}]})").value();
  EXPECT_INVALID(CheckKsRequestAgainstModel(extra, inputs, outputs, "simple"),
                 "unexpected inference input 'INPUT2' for model 'simple'");
}

TEST(KsEncode, JsonResponse) {
  KsInferResponse resp;
  resp.model_name = "simple";
  resp.model_version = "1";
  resp.id = "42";
  resp.outputs.push_back({"OUTPUT0", Tensor::FromVector<int32_t>({1, 3}, {2, 4, -6}), false});
  resp.outputs.push_back(
      {"p", Tensor::FromVector<float>({2}, {0.25f, std::numeric_limits<float>::quiet_NaN()}), false});
  auto r = EncodeKsInferResponse(resp);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->header_length.has_value());
  EXPECT_EQ(r->body, R"({"model_name":"simple","model_version":"1","id":"42","outputs":[)"
                     R"({"name":"OUTPUT0","datatype":"INT32","shape":[1,3],"data":[2,4,-6]},)"
                     R"({"name":"p","datatype":"FP32","shape":[2],"data":[0.25,NaN]}]})");
}

TEST(KsEncode, OmitsEmptyIdAndVersionAndWidensHalf) {
  KsInferResponse resp;
  resp.model_name = "m";
  Tensor h = Tensor::Allocate(DataType::kFloat16, {2}).value();
  h.as<uint16_t>()[0] = 0x3c00;  // 1.0
  h.as<uint16_t>()[1] = 0x3555;  // 0.333251953125
  Tensor b = Tensor::Allocate(DataType::kBool, {1}).value();
  resp.outputs.push_back({"h", h, false});
  resp.outputs.push_back({"b", b, false});
  auto r = EncodeKsInferResponse(resp);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body,
            R"({"model_name":"m","outputs":[{"name":"h","datatype":"FP16","shape":[2],"data":[1.0,0.33325195]},)"
            R"({"name":"b","datatype":"BOOL","shape":[1],"data":[false]}]})");
}

TEST(KsEncode, BinaryResponse) {
  KsInferResponse resp;
  resp.model_name = "mymodel";
  resp.outputs.push_back({"output0", Tensor::FromVector<float>({3, 2}, {1, 2, 3, 4, 5, 6}), true});
  resp.outputs.push_back({"n", Tensor::FromVector<int64_t>({1}, {7}), false});
  auto r = EncodeKsInferResponse(resp);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::string json =
      R"({"model_name":"mymodel","outputs":[{"name":"output0","datatype":"FP32","shape":[3,2],)"
      R"("parameters":{"binary_data_size":24}},{"name":"n","datatype":"INT64","shape":[1],"data":[7]}]})";
  ASSERT_TRUE(r->header_length.has_value());
  EXPECT_EQ(*r->header_length, json.size());
  ASSERT_EQ(r->body.size(), json.size() + 24);
  EXPECT_EQ(r->body.substr(0, json.size()), json);
  float back[6];
  std::memcpy(back, r->body.data() + json.size(), 24);
  EXPECT_EQ(std::vector<float>(back, back + 6), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(KsEncode, SelectOutputs) {
  std::map<std::string, Tensor> produced = {{"b", Tensor::FromVector<float>({1}, {1})},
                                            {"a", Tensor::FromVector<float>({1}, {2})}};
  auto all = Decode(R"({"parameters":{"binary_data_output":true},"inputs":[]})").value();
  auto sel = SelectKsOutputs(all, produced);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 2u);
  EXPECT_EQ((*sel)[0].name, "a");
  EXPECT_TRUE((*sel)[0].binary);
  auto some =
      Decode(R"({"inputs":[],"outputs":[{"name":"b","parameters":{"binary_data":true}},{"name":"a"}]})").value();
  sel = SelectKsOutputs(some, produced);
  ASSERT_TRUE(sel.ok());
  ASSERT_EQ(sel->size(), 2u);
  EXPECT_EQ((*sel)[0].name, "b");
  EXPECT_TRUE((*sel)[0].binary);
  EXPECT_FALSE((*sel)[1].binary);
  auto missing = Decode(R"({"inputs":[],"outputs":[{"name":"zz"}]})").value();
  EXPECT_INVALID(SelectKsOutputs(missing, produced), "unexpected inference output 'zz'");
  EXPECT_EQ(EncodeKsError("bad \"x\""), R"({"error":"bad \"x\""})");
}

TEST(KsEncode, RefusesStringOutputs) {
  KsInferResponse resp;
  resp.model_name = "m";
  resp.outputs.push_back({"s", Tensor(), false});
  EXPECT_INVALID(EncodeKsInferResponse(resp), "output 's' has type undefined");
  EXPECT_EQ(KsDatatypeName(DataType::kString), "");
}

}  // namespace
}  // namespace ferry::protocol
