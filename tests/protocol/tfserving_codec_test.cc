// TF Serving predict codec: hand-written bodies from api_rest.md and protocols.md, expected tensors worked out by
// hand.
#include "protocol/tfserving_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_util.h"

namespace ferry::protocol {
namespace {

using testing::BoolValues;
using testing::Spec;
using testing::Values;

const std::vector<TensorSpec> kOneFloat = {Spec("x", DataType::kFloat, {-1, 2})};
const std::vector<TensorSpec> kTwoInputs = {Spec("a", DataType::kInt64, {-1, 2}), Spec("b", DataType::kBool, {-1})};

TEST(TfsDecode, RowFormatSingleInput) {
  auto r = DecodeTfsPredictRequest(R"({"instances": [[1.0, 2.0], [3, 4.5]]})", kOneFloat);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, TfsFormat::kRow);
  EXPECT_EQ(r->signature_name, "");
  const Tensor& x = r->inputs.at("x");
  EXPECT_EQ(x.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(x), (std::vector<float>{1.0f, 2.0f, 3.0f, 4.5f}));
}

TEST(TfsDecode, RowFormatScalarsGetBatchDim) {
  auto r = DecodeTfsPredictRequest(R"({"instances": [1.0, 2.0, 5.0]})", {Spec("x", DataType::kFloat, {-1})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs.at("x").shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(r->inputs.at("x")), (std::vector<float>{1, 2, 5}));
}

TEST(TfsDecode, RowFormatNestedInstances) {
  // [ [[1,2]], [[3,4]] ] -> [2, 1, 2]
  auto r = DecodeTfsPredictRequest(R"({"instances": [[[1, 2]], [[3, 4]]]})", {Spec("x", DataType::kInt32, {-1, 1, 2})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs.at("x").shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(Values<int32_t>(r->inputs.at("x")), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(TfsDecode, RowFormatNamedInputs) {
  auto r = DecodeTfsPredictRequest(
      R"({"signature_name": "serving_default",
          "instances": [{"a": [1, 2], "b": true}, {"b": false, "a": [-3, 9007199254740993]}]})",
      kTwoInputs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->signature_name, "serving_default");
  EXPECT_EQ(r->inputs.at("a").shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(r->inputs.at("a")), (std::vector<int64_t>{1, 2, -3, 9007199254740993}));
  EXPECT_EQ(r->inputs.at("b").shape(), (Shape{2}));
  EXPECT_EQ(BoolValues(r->inputs.at("b")), (std::vector<uint8_t>{1, 0}));
}

TEST(TfsDecode, RowFormatObjectsWithOneInput) {
  auto r = DecodeTfsPredictRequest(R"({"instances": [{"x": [1, 2]}]})", kOneFloat);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs.at("x").shape(), (Shape{1, 2}));
}

TEST(TfsDecode, ColumnarSingleInput) {
  auto r = DecodeTfsPredictRequest(R"({"signature_name": "serving_default", "inputs": [3.0, 4.0]})",
                                   {Spec("x", DataType::kFloat, {-1})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, TfsFormat::kColumnar);
  EXPECT_EQ(r->inputs.at("x").shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(r->inputs.at("x")), (std::vector<float>{3, 4}));
}

TEST(TfsDecode, ColumnarScalarIsRankZero) {
  auto r = DecodeTfsPredictRequest(R"({"inputs": 3.0})", {Spec("x", DataType::kDouble, {})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs.at("x").shape(), Shape{});
  EXPECT_EQ(Values<double>(r->inputs.at("x")), (std::vector<double>{3.0}));
}

TEST(TfsDecode, ColumnarNamedInputsMayDifferInDim0AndExtraKeysAreIgnored) {
  auto r = DecodeTfsPredictRequest(R"({"inputs": {"a": [[1, 2], [3, 4], [5, 6]], "b": [true], "zzz": 1}})", kTwoInputs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->inputs.size(), 2u);
  EXPECT_EQ(r->inputs.at("a").shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<int64_t>(r->inputs.at("a")), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(r->inputs.at("b").shape(), (Shape{1}));
}

TEST(TfsDecode, NonFiniteTokensAndEmptyLists) {
  auto r = DecodeTfsPredictRequest(R"({"instances": [[NaN, Infinity], [-Infinity, 1e39]]})", kOneFloat);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto v = Values<float>(r->inputs.at("x"));
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(v[3], std::numeric_limits<float>::infinity());  // beyond float range, as TF Serving

  auto e = DecodeTfsPredictRequest(R"({"instances": [[], []]})", {Spec("x", DataType::kFloat, {-1, -1})});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->inputs.at("x").shape(), (Shape{2, 0}));
}

TEST(TfsDecode, IntegerTypes) {
  auto r = DecodeTfsPredictRequest(
      R"({"inputs": {"u": [255, 0], "i": [-128, 127], "w": [18446744073709551615]}})",
      {Spec("u", DataType::kUInt8, {2}), Spec("i", DataType::kInt8, {2}), Spec("w", DataType::kUInt64, {1})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Values<uint8_t>(r->inputs.at("u")), (std::vector<uint8_t>{255, 0}));
  EXPECT_EQ(Values<int8_t>(r->inputs.at("i")), (std::vector<int8_t>{-128, 127}));
  EXPECT_EQ(Values<uint64_t>(r->inputs.at("w")), (std::vector<uint64_t>{18446744073709551615ull}));
}

TEST(TfsDecode, EnvelopeErrors) {
  EXPECT_INVALID(DecodeTfsPredictRequest("", kOneFloat), "JSON Parse error: The document is empty");
  EXPECT_INVALID(DecodeTfsPredictRequest("  \n", kOneFloat), "The document is empty");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [1,)", kOneFloat), "JSON Parse error");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [1]} trailing)", kOneFloat), "JSON Parse error");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"([1, 2])", kOneFloat), "Is not object");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"("instances")", kOneFloat), "Is not object");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"signature_name": 5, "inputs": [1]})", kOneFloat),
                 "'signature_name' key must be a string value.");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"signature_name": "other", "inputs": [[1, 2]]})", kOneFloat),
                 "Serving signature name: \"other\" not found in signature def");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [1], "instances": [1]})", kOneFloat),
                 "expecting only one of 'inputs' or 'instances' keys to exist");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"input": [1]})", kOneFloat), "Missing 'inputs' or 'instances' key");
  std::string deep = R"({"inputs": )" + std::string(150, '[') + "1" + std::string(150, ']') + "}";
  EXPECT_INVALID(DecodeTfsPredictRequest(deep, kOneFloat), "nesting depth exceeds maximum allowed limit (100)");
}

TEST(TfsDecode, SignatureNameIsAvailableBeforeDecoding) {
  auto body = TfsPredictBody::Parse(R"({"signature_name": "other", "instances": "not a list"})");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(body->signature_name(), "other");
  EXPECT_EQ(body->format(), TfsFormat::kRow);
  EXPECT_INVALID(body->DecodeInputs(kOneFloat), "Expecting 'instances' to be an list/array");
}

TEST(TfsDecode, RowFormatErrors) {
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": {"x": [1, 2]}})", kOneFloat),
                 "Expecting 'instances' to be an list/array");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": []})", kOneFloat), "No values in 'instances' array");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, 2]]})", kTwoInputs),
                 "instances is a plain list, but expecting list of objects as multiple input tensors required");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, 2], {"x": [1, 2]}]})", kOneFloat),
                 "Expecting value/list but got object at item 1");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [{"a": [1, 2], "b": true}, [1, 2]]})", kTwoInputs),
                 "Expecting object but got array at item 1");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [{"a": [1, 2], "b": true, "c": 1}]})", kTwoInputs),
                 "JSON object: does not have named input: c");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [{"a": [1, 2], "b": true}, {"a": [1, 2]}]})", kTwoInputs),
                 "keys must be equal to: a,b");
  // Instances of different sizes, then of the same size but different shapes.
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, 2], [3]]})", kOneFloat),
                 "input 'x' instance 1: Expecting tensor size: 2 but got: 1");
  EXPECT_INVALID(
      DecodeTfsPredictRequest(R"({"instances": [[[1, 2]], [[1], [2]]]})", {Spec("x", DataType::kFloat, {-1, -1, -1})}),
      "Expecting shape [1, 2] but got: [2, 1]");
  // Ragged inside one instance, and a list where a value belongs.
  EXPECT_INVALID(
      DecodeTfsPredictRequest(R"({"instances": [[[1, 2], [3]]]})", {Spec("x", DataType::kFloat, {-1, -1, -1})}),
      "Encountered list at unexpected size: 1 expecting: 2");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, [2]]]})", kOneFloat), "list found at incorrect level");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[[1], 2]]})", {Spec("x", DataType::kFloat, {-1, 2, 1})}),
                 "value found at incorrect level");
}

TEST(TfsDecode, ValueTypeErrors) {
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, "a"]]})", kOneFloat),
                 "input 'x' instance 0: element 1: JSON value \"a\" of kind string is not of expected type: float");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, null]]})", kOneFloat), "not of expected type: float");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": {"a": [[1.5, 2]], "b": [true]}})", kTwoInputs),
                 "input 'a': element 0: JSON value 1.5 of kind number is not of expected type: int64");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": {"a": [[1, 2]], "b": [1]}})", kTwoInputs),
                 "input 'b': element 0: JSON value 1 of kind integer is not of expected type: bool");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [300]})", {Spec("x", DataType::kInt8, {1})}),
                 "JSON value 300 is out of range for type: int8");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [-1]})", {Spec("x", DataType::kUInt32, {1})}),
                 "JSON value -1 is out of range for type: uint32");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [2147483648]})", {Spec("x", DataType::kInt32, {1})}),
                 "out of range for type: int32");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [{"b64": "aGVsbG8="}]})", {Spec("x", DataType::kFloat, {-1})}),
                 "not of expected type: float");
  EXPECT_STATUS(DecodeTfsPredictRequest(R"({"inputs": [1.0]})", {Spec("x", DataType::kFloat16, {1})}),
                StatusCode::kUnimplemented, "type: float16 is not supported");
}

TEST(TfsDecode, ShapeAndNameErrors) {
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[1, 2, 3]]})", kOneFloat),
                 "input 'x': expected shape [-1, 2] but got [1, 3]");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [1, 2]})", kOneFloat),
                 "input 'x': expected shape [-1, 2] but got [2]");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": {"a": [[1, 2]]}})", kTwoInputs),
                 "Missing named input: b in 'inputs' object.");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": [[1, 2]]})", kTwoInputs),
                 "inputs is a plain value/list, but expecting an object as multiple input tensors required");
}

TEST(TfsDecode, SyntaxErrorsWinOverEnvelopeErrors) {
  // As with a DOM parser, the whole body is JSON-checked before any field is looked at.
  EXPECT_INVALID(TfsPredictBody::Parse(R"({"signature_name": 5, "inputs": [1,]})"),
                 "JSON Parse error: Invalid value. at offset: 35");
  EXPECT_INVALID(TfsPredictBody::Parse(R"({"inputs": [1], "instances": [1], "x": tru})"), "JSON Parse error");
  EXPECT_INVALID(TfsPredictBody::Parse(R"([1, 2)"), "JSON Parse error");
  EXPECT_INVALID(TfsPredictBody::Parse(R"({"instances": [[1, 2], [3, 4]] "x": 1})"),
                 "Missing a comma or '}' after an object member. at offset: 31");
  EXPECT_INVALID(TfsPredictBody::Parse(R"({"instances": [[1e400]]})"), "Number too big to be stored in double.");
  // A key given twice counts with its last value.
  auto twice = TfsPredictBody::Parse(R"({"instances": [[1, 2]], "instances": "no", "signature_name": 1,
                                         "signature_name": "s"})");
  ASSERT_TRUE(twice.ok()) << twice.status().ToString();
  EXPECT_EQ(twice->signature_name(), "s");
  EXPECT_INVALID(twice->DecodeInputs(kOneFloat), "Expecting 'instances' to be an list/array");
}

TEST(TfsDecode, BatchOfImages) {
  // Three 2x2x3 "images", one with whitespace everywhere and every float form.
  const std::string body = R"({"instances": [
      [[[0.1, 0.2, 0.3], [1, 2, 3]], [[-0.5, 1e-3, 2E2], [NaN, 0, -0]]],
      [ [ [ 4 , 5 , 6 ] , [ 7 , 8 , 9 ] ] , [ [ 10 , 11 , 12 ] , [ 13 , 14 , 15 ] ] ],
      [[[0.123456, 0.654321, 1.5], [2.25, 3.125, 4.0625]], [[5, 6, 7], [8, 9, 10]]]]})";
  auto r = DecodeTfsPredictRequest(body, {Spec("image", DataType::kFloat, {-1, 2, 2, 3})});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Tensor& t = r->inputs.at("image");
  EXPECT_EQ(t.shape(), (Shape{3, 2, 2, 3}));
  auto v = Values<float>(t);
  const std::vector<float> expected_head = {0.1f, 0.2f, 0.3f, 1, 2, 3, -0.5f, 1e-3f, 200};
  EXPECT_EQ(std::vector<float>(v.begin(), v.begin() + 9), expected_head);
  EXPECT_TRUE(std::isnan(v[9]));
  EXPECT_EQ(v[12], 4.0f);
  EXPECT_EQ(v[23], 15.0f);
  EXPECT_EQ(v[24], 0.123456f);
  EXPECT_EQ(v[35], 10.0f);
  // The same images as named inputs, next to a second input.
  auto named =
      DecodeTfsPredictRequest(R"({"instances": [{"image": [[[1, 2, 3]]], "k": 7}, {"k": 8, "image": [[[4, 5, 6]]]}]})",
                              {Spec("image", DataType::kDouble, {-1, 1, 1, 3}), Spec("k", DataType::kInt32, {-1})});
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ(Values<double>(named->inputs.at("image")), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Values<int32_t>(named->inputs.at("k")), (std::vector<int32_t>{7, 8}));
  // Errors inside the fast paths read as before: a bad channel, a short pixel.
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[[[1, 2, 3]], [[4, true, 6]]]]})",
                                         {Spec("x", DataType::kFloat, {-1, 2, 1, 3})}),
                 "input 'x' instance 0: element 4: JSON value true of kind bool is not of expected type: float");
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"instances": [[[[1, 2, 3]], [[4, 6]]]]})",
                                         {Spec("x", DataType::kFloat, {-1, 2, 1, 3})}),
                 "Encountered list at unexpected size: 2 expecting: 3 at depth 2 (ragged list)");
}

TEST(TfsDecode, ColumnarB64IsAValue) {
  EXPECT_INVALID(DecodeTfsPredictRequest(R"({"inputs": {"b64": "aGVsbG8="}})", {Spec("x", DataType::kFloat, {})}),
                 "input 'x': element 0: JSON value {\"b64\": \"aGVsbG8=\"} of kind object");
  // An object with other keys is a set of named inputs.
  EXPECT_INVALID(
      DecodeTfsPredictRequest(R"({"inputs": {"b64": "aGVsbG8=", "y": 1}})", {Spec("x", DataType::kFloat, {})}),
      "Missing named input: x in 'inputs' object.");
}

TEST(TfsEncode, RowFormatOneOutput) {
  std::map<std::string, Tensor> out = {{"y", Tensor::FromVector<float>({2, 2}, {2.5f, 3.0f, 3.5f, 4.0f})}};
  auto r = EncodeTfsPredictResponse(TfsFormat::kRow, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, R"({"predictions":[[2.5,3.0],[3.5,4.0]]})");
}

TEST(TfsEncode, RowFormatSeveralOutputs) {
  Tensor b = Tensor::Allocate(DataType::kBool, {2, 1}).value();
  b.as<uint8_t>()[0] = 1;
  std::map<std::string, Tensor> out = {{"a", Tensor::FromVector<int64_t>({2}, {1, -9007199254740993})}, {"b", b}};
  auto r = EncodeTfsPredictResponse(TfsFormat::kRow, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, R"({"predictions":[{"a":1,"b":[true]},{"a":-9007199254740993,"b":[false]}]})");
}

TEST(TfsEncode, RowFormatEmptyBatch) {
  std::map<std::string, Tensor> out = {{"y", Tensor::Allocate(DataType::kFloat, {0, 3}).value()}};
  auto r = EncodeTfsPredictResponse(TfsFormat::kRow, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, R"({"predictions":[]})");
}

TEST(TfsEncode, ColumnarFormat) {
  auto one = EncodeTfsPredictResponse(TfsFormat::kColumnar, {{"y", Tensor::FromVector<float>({2}, {3.5f, 4.0f})}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, R"({"outputs":[3.5,4.0]})");
  auto scalar = EncodeTfsPredictResponse(TfsFormat::kColumnar, {{"y", Tensor::FromVector<double>({}, {8.0})}});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(*scalar, R"({"outputs":8.0})");
  auto two = EncodeTfsPredictResponse(TfsFormat::kColumnar, {{"d", Tensor::FromVector<double>({2}, {8.0, 9.0})},
                                                             {"i", Tensor::FromVector<int32_t>({1, 2}, {1, 2})}});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, R"({"outputs":{"d":[8.0,9.0],"i":[[1,2]]}})");
}

TEST(TfsEncode, FloatFormatting) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto r = EncodeTfsPredictResponse(
      TfsFormat::kColumnar, {{"y", Tensor::FromVector<float>({7}, {0.1f, 1.0f / 3.0f, -0.0f, 1e-7f, nan, inf, -inf})}});
  ASSERT_TRUE(r.ok());
  // Shortest strings that read back as the same float.
  EXPECT_EQ(*r, R"({"outputs":[0.1,0.33333334,-0.0,1e-07,NaN,Infinity,-Infinity]})");
  auto d = EncodeTfsPredictResponse(TfsFormat::kColumnar, {{"y", Tensor::FromVector<double>({2}, {0.1, 1.0 / 3})}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, R"({"outputs":[0.1,0.3333333333333333]})");
}

TEST(TfsEncode, Errors) {
  EXPECT_INVALID(EncodeTfsPredictResponse(TfsFormat::kRow, {{"y", Tensor::FromVector<float>({}, {1.0f})}}),
                 "Tensor name: y has no shape information");
  EXPECT_INVALID(EncodeTfsPredictResponse(TfsFormat::kRow, {{"a", Tensor::FromVector<float>({2}, {1, 2})},
                                                            {"b", Tensor::FromVector<float>({3}, {1, 2, 3})}}),
                 "Tensor name: b has inconsistent batch size: 3 expecting: 2");
  EXPECT_EQ(EncodeTfsError("Servable not found for request: Latest(m)"),
            R"j({"error":"Servable not found for request: Latest(m)"})j");
  EXPECT_EQ(EncodeTfsError("quote \" and \n"), R"({"error":"quote \" and \n"})");
}

}  // namespace
}  // namespace ferry::protocol
