// Fuzzes the JSON pull reader (src/protocol/json_reader, json_number, json_values) on arbitrary text.
//
// Properties, beyond "no crash, no UB, no leak":
//  - JsonReader::Validate, a full walk with the pull API and SkipValue + Finish agree on whether the text is one
//    JSON value;
//  - on plain RFC 8259 text (no NaN/Infinity tokens, nesting within kMaxJsonDepth) the reader accepts exactly
//    what nlohmann's parser accepts, and the walk builds the same document (nlohmann is the independent parser);
//  - the typed fills of json_values.h are safe on any text and never report more stores than their capacity.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "protocol/json_reader.h"
#include "protocol/json_values.h"
#include "tests/protocol/json_dom.h"

namespace ferry::protocol {
namespace {

// The typed fills on the same text: each must come back (OK or not) without writing past its buffer.
void FuzzTypedFills(std::string_view text) {
  static constexpr DataType kTypes[] = {DataType::kFloat,  DataType::kDouble, DataType::kInt8,
                                        DataType::kUInt64, DataType::kInt64,  DataType::kBool};
  constexpr int64_t kCapacity = 16;
  alignas(8) unsigned char buffer[kCapacity * 8];
  for (DataType dtype : kTypes) {
    {
      JsonReader r(text);
      int64_t count = 0;
      Status element_error;
      (void)FillJsonLeaves(&r, dtype, buffer, kCapacity, &count, &element_error);
      FUZZ_CHECK(count >= 0, "negative leaf count");
    }
    {
      JsonReader r(text);
      Shape shape;
      if (!ReadJsonNestedShape(&r, &shape).ok()) continue;
      for (int64_t d : shape) FUZZ_CHECK(d >= 0, "negative dim in " + ShapeToString(shape));
      if (NumElements(shape) > kCapacity) continue;
      JsonReader dense(text);
      int64_t index = 0;
      Status s = FillJsonDense(&dense, shape, dtype, buffer, &index);
      FUZZ_CHECK(index <= NumElements(shape), "FillJsonDense stored past the shape " + ShapeToString(shape));
      if (s.ok()) FUZZ_CHECK(index == NumElements(shape), "FillJsonDense stored too few elements");
    }
  }
}

}  // namespace
}  // namespace ferry::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::protocol;
  using ferry::Status;
  const std::string doc(reinterpret_cast<const char*>(data), size);

  const Status valid = JsonReader::Validate(doc);

  JsonReader walker(doc);
  nlohmann::json dom;
  Status walked = testing::JsonReaderToDom(&walker, &dom);
  if (walked.ok()) walked = walker.Finish();
  FUZZ_CHECK(walked.ok() == valid.ok(), "Validate: " + valid.ToString() + "\nwalk: " + walked.ToString());

  JsonReader skipper(doc);
  std::string_view raw;
  Status skipped = skipper.SkipValue(&raw);
  if (skipped.ok()) skipped = skipper.Finish();
  FUZZ_CHECK(skipped.ok() == valid.ok(), "Validate: " + valid.ToString() + "\nSkipValue: " + skipped.ToString());
  if (valid.ok()) {
    FUZZ_CHECK(raw.data() >= doc.data() && raw.data() + raw.size() <= doc.data() + doc.size(), "raw outside text");
    FUZZ_CHECK(JsonReader::Validate(raw).ok(), "the raw text of a valid value does not validate");
  }

  JsonReader message(doc);
  FUZZ_CHECK(message.ValueForMessage().size() <= 48, "ValueForMessage longer than 48 bytes");

  // Plain RFC 8259 text only: NaN and Infinity are ours alone, and so is the depth limit. nlohmann stops at a NUL
  // byte as at the end of the input; JSON text never holds one (not even inside strings).
  const bool has_nul = doc.find('\0') != std::string::npos;
  if (has_nul) FUZZ_CHECK(!valid.ok(), "accepted a text with a NUL byte");
  const bool plain = doc.find_first_of("NI") == std::string::npos && !has_nul;
  const bool too_deep = !valid.ok() && valid.message().find("nesting depth") != std::string::npos;
  if (plain && !too_deep) {
    const bool theirs = nlohmann::json::accept(doc);
    FUZZ_CHECK(theirs == valid.ok(), "nlohmann accepts: " + std::to_string(theirs) + ", reader: " + valid.ToString());
    if (theirs) {
      const nlohmann::json expected = nlohmann::json::parse(doc);
      FUZZ_CHECK(dom == expected, "reader: " + dom.dump() + "\nnlohmann: " + expected.dump());
    }
  }

  FuzzTypedFills(doc);
  return 0;
}
