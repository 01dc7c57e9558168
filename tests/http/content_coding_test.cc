// Content codings: header parsing and negotiation against RFC 9110's grammar, and the decoder and encoder against
// zlib itself (used directly here, independently of the code under test).
#include "http/content_coding.h"

#include <gtest/gtest.h>

#include <string>

#include "zlib_util.h"

namespace ferry::http {
namespace {

using testing::ZlibCompress;
using testing::ZlibDecompress;

// Feeds `wire` to an Inflater in pieces of `piece` bytes; returns the decoded bytes or the error.
Result<std::string> Decode(ContentCoding coding, const std::string& wire, size_t piece) {
  Inflater inflater(coding);
  std::string out;
  for (size_t i = 0; i < wire.size(); i += piece) {
    Status s = inflater.Feed(wire.data() + i, std::min(piece, wire.size() - i), [&](const char* p, size_t n) {
      out.append(p, n);
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  FERRY_RETURN_IF_ERROR(inflater.Finish());
  return out;
}

TEST(ContentCoding, ParsesRequestCodings) {
  EXPECT_EQ(ParseContentEncoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(ParseContentEncoding(" Identity "), ContentCoding::kIdentity);
  EXPECT_EQ(ParseContentEncoding("gzip"), ContentCoding::kGzip);
  EXPECT_EQ(ParseContentEncoding("X-GZIP"), ContentCoding::kGzip);
  EXPECT_EQ(ParseContentEncoding("deflate"), ContentCoding::kDeflate);
  EXPECT_EQ(ParseContentEncoding("br"), std::nullopt);
  EXPECT_EQ(ParseContentEncoding("gzip, gzip"), std::nullopt);
  EXPECT_EQ(ParseContentEncoding("compress"), std::nullopt);
}

TEST(ContentCoding, NegotiatesByQValue) {
  EXPECT_EQ(NegotiateResponseCoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateResponseCoding("gzip"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateResponseCoding("deflate"), ContentCoding::kDeflate);
  EXPECT_EQ(NegotiateResponseCoding("deflate, gzip"), ContentCoding::kGzip);  // equal weight: gzip
  EXPECT_EQ(NegotiateResponseCoding("gzip;q=0.5, deflate"), ContentCoding::kDeflate);
  EXPECT_EQ(NegotiateResponseCoding("gzip;q=0"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateResponseCoding("*"), ContentCoding::kGzip);
  EXPECT_EQ(NegotiateResponseCoding("*;q=0, deflate;q=0.1"), ContentCoding::kDeflate);
  EXPECT_EQ(NegotiateResponseCoding("identity, br"), ContentCoding::kIdentity);
  EXPECT_EQ(NegotiateResponseCoding("gzip;q=2"), ContentCoding::kIdentity);  // malformed weight: ignored
  EXPECT_EQ(NegotiateResponseCoding("GZIP ; Q=1.000"), ContentCoding::kGzip);
}

TEST(ContentCoding, InflatesWhatZlibCompressed) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += std::to_string(i * 7919 % 10007) + ",";
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    auto gz = Decode(ContentCoding::kGzip, ZlibCompress(text, 31, 9), piece);
    ASSERT_TRUE(gz.ok()) << gz.status().ToString();
    EXPECT_TRUE(*gz == text) << piece;
    auto zl = Decode(ContentCoding::kDeflate, ZlibCompress(text, 15, 9), piece);
    ASSERT_TRUE(zl.ok()) << zl.status().ToString();
    EXPECT_TRUE(*zl == text);
    auto raw = Decode(ContentCoding::kDeflate, ZlibCompress(text, -15, 9), piece);
    ASSERT_TRUE(raw.ok()) << raw.status().ToString();
    EXPECT_TRUE(*raw == text);
  }
}

TEST(ContentCoding, RefusesCorruptTruncatedAndTrailingData) {
  const std::string gz = ZlibCompress("hello hello hello", 31);
  EXPECT_EQ(Decode(ContentCoding::kGzip, gz.substr(0, gz.size() - 3), 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(ContentCoding::kGzip, gz + "junk", 64).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(ContentCoding::kGzip, gz + gz, 64).status().code(), StatusCode::kInvalidArgument);
  std::string flipped = gz;
  flipped[flipped.size() - 6] ^= 0x55;  // the CRC-32 trailer no longer matches
  EXPECT_EQ(Decode(ContentCoding::kGzip, flipped, 64).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode(ContentCoding::kGzip, "plain text, not gzip", 64).status().code(), StatusCode::kInvalidArgument);
}

TEST(ContentCoding, OutputErrorsStopDecoding) {
  const std::string zeros = ZlibCompress(std::string(10 << 20, '\0'), 31);
  Inflater inflater(ContentCoding::kGzip);
  uint64_t seen = 0;
  Status s = inflater.Feed(zeros.data(), zeros.size(), [&](const char*, size_t n) {
    seen += n;
    return seen > (1 << 20) ? ResourceExhausted("over") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_LE(seen, (1u << 20) + (64u << 10));  // stopped within one output piece of the limit
}

TEST(ContentCoding, CompressRoundTripsThroughZlib) {
  std::string text(100000, 'x');
  for (size_t i = 0; i < text.size(); i += 13) text[i] = static_cast<char>('a' + i % 26);
  auto gz = Compress(text, ContentCoding::kGzip);
  ASSERT_TRUE(gz.ok());
  EXPECT_LT(gz->size(), text.size() / 4);
  EXPECT_TRUE(ZlibDecompress(*gz, 31) == text);
  auto df = Compress(text, ContentCoding::kDeflate);
  ASSERT_TRUE(df.ok());
  EXPECT_TRUE(ZlibDecompress(*df, 15) == text);
}

}  // namespace
}  // namespace ferry::http
