#include "http/content_coding.h"

#include <algorithm>
#include <vector>

#include "http/header_text.h"

namespace ferry::http {
namespace {

using internal::IEquals;
using internal::TrimBlanks;

constexpr size_t kOutPiece = 64 * 1024;

// A qvalue (RFC 9110 12.4.2): "0", "1", "0.5", "1.000"; nullopt when malformed.
std::optional<double> ParseQ(std::string_view s) {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return std::nullopt;
  double q = s[0] - '0';
  if (s.size() == 1) return q;
  if (s[1] != '.' || s.size() > 5) return std::nullopt;
  double scale = 0.1;
  for (char c : s.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q > 1.0 ? std::nullopt : std::optional<double>(q);
}

}  // namespace

const char* ContentCodingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kDeflate:
      return "deflate";
    case ContentCoding::kIdentity:
      break;
  }
  return "identity";
}

std::optional<ContentCoding> ParseContentEncoding(std::string_view value) {
  value = TrimBlanks(value);
  if (value.empty() || IEquals(value, "identity")) return ContentCoding::kIdentity;
  if (IEquals(value, "gzip") || IEquals(value, "x-gzip")) return ContentCoding::kGzip;
  if (IEquals(value, "deflate")) return ContentCoding::kDeflate;
  return std::nullopt;
}

ContentCoding NegotiateResponseCoding(std::string_view accept_encoding) {
  std::optional<double> gzip, deflate, star;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view name = TrimBlanks(item.substr(0, semi));
    std::optional<double> q = 1.0;
    if (semi != std::string_view::npos) {
      std::string_view param = TrimBlanks(item.substr(semi + 1));
      if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
      q = ParseQ(TrimBlanks(param.substr(2)));
      if (!q) continue;
    }
    if (IEquals(name, "gzip") || IEquals(name, "x-gzip")) {
      gzip = q;
    } else if (IEquals(name, "deflate")) {
      deflate = q;
    } else if (name == "*") {
      star = q;
    }
  }
  const double g = gzip.value_or(star.value_or(0.0));
  const double d = deflate.value_or(star.value_or(0.0));
  if (g <= 0 && d <= 0) return ContentCoding::kIdentity;
  return g >= d ? ContentCoding::kGzip : ContentCoding::kDeflate;
}

Inflater::Inflater(ContentCoding coding) : coding_(coding) {}

Inflater::~Inflater() {
  if (started_) inflateEnd(&z_);
}

Status Inflater::Start(const unsigned char* first, size_t size) {
  int window_bits = 15 + 16;  // gzip wrapper only
  if (coding_ == ContentCoding::kDeflate) {
    // A zlib header is CMF FLG with CM = 8 and (CMF*256 + FLG) % 31 == 0; anything else is taken as raw deflate.
    const bool zlib = size >= 2 && (first[0] & 0x0f) == 8 && ((first[0] << 8) | first[1]) % 31 == 0;
    window_bits = zlib ? 15 : -15;
  }
  if (inflateInit2(&z_, window_bits) != Z_OK) return Internal("zlib inflateInit2 failed");
  started_ = true;
  return Status::Ok();
}

Status Inflater::Feed(const char* data, size_t size, const Output& out) {
  if (size == 0) return Status::Ok();
  if (ended_) return InvalidArgument("data after the end of the {} stream", ContentCodingName(coding_));
  const auto* in = reinterpret_cast<const unsigned char*>(data);
  if (!started_) {
    // The first two bytes tell zlib from raw deflate: wait for both.
    if (head_.size() + size < 2) {
      head_.append(data, size);
      return Status::Ok();
    }
    if (!head_.empty()) {
      std::string first = head_ + std::string(data, 2 - head_.size());
      FERRY_RETURN_IF_ERROR(Start(reinterpret_cast<const unsigned char*>(first.data()), first.size()));
      std::string held = std::move(head_);
      head_.clear();
      FERRY_RETURN_IF_ERROR(Feed(held.data(), held.size(), out));
    } else {
      FERRY_RETURN_IF_ERROR(Start(in, size));
    }
  }
  if (out_buf_.size() != kOutPiece) out_buf_.resize(kOutPiece);
  z_.next_in = const_cast<unsigned char*>(in);
  // Fed in pieces that fit zlib's 32-bit counters.
  size_t left = size;
  while (left > 0 || z_.avail_in > 0) {
    if (z_.avail_in == 0) {
      const size_t take = std::min<size_t>(left, 1u << 30);
      z_.avail_in = static_cast<uInt>(take);
      left -= take;
    }
    z_.next_out = reinterpret_cast<unsigned char*>(out_buf_.data());
    z_.avail_out = static_cast<uInt>(out_buf_.size());
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const size_t produced = out_buf_.size() - z_.avail_out;
    if (produced > 0) {
      decoded_ += produced;
      FERRY_RETURN_IF_ERROR(out(out_buf_.data(), produced));
    }
    if (rc == Z_STREAM_END) {
      ended_ = true;
      if (z_.avail_in > 0 || left > 0) {
        return InvalidArgument("data after the end of the {} stream", ContentCodingName(coding_));
      }
      return Status::Ok();
    }
    if (rc == Z_BUF_ERROR) {
      // No progress: fine when the input is used up (more comes with the next Feed), corrupt otherwise.
      if (produced == 0 && z_.avail_in > 0)
        return InvalidArgument("the {} body is corrupt", ContentCodingName(coding_));
      continue;
    }
    if (rc != Z_OK) {
      return InvalidArgument("the {} body is corrupt: {}", ContentCodingName(coding_),
                             z_.msg != nullptr ? z_.msg : "inflate failed");
    }
  }
  return Status::Ok();
}

Status Inflater::Finish() const {
  if (!ended_ || !head_.empty())
    return InvalidArgument("the {} body ends before its compressed stream does", ContentCodingName(coding_));
  return Status::Ok();
}

Result<std::string> Compress(std::string_view body, ContentCoding coding, int level) {
  if (body.size() > (1u << 30)) return ResourceExhausted("{} bytes are too many to compress at once", body.size());
  z_stream z{};
  const int window_bits = coding == ContentCoding::kGzip ? 15 + 16 : 15;
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("zlib deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(body.size())));
  z.next_in = reinterpret_cast<unsigned char*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<unsigned char*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Internal("zlib deflate failed ({})", rc);
  return out;
}

}  // namespace ferry::http
