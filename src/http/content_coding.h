// Content codings of HTTP bodies (RFC 9110 8.4): decoding gzip/deflate request bodies as they arrive, choosing
// and applying a response coding from Accept-Encoding. zlib does the work; this file only drives it.
//
// "deflate" is the zlib format (RFC 1950) as RFC 9110 defines it and as Triton's and TF Serving's clients send
// it; a raw deflate stream (what some old clients send) is recognised by its first bytes and accepted too.
//
// Thread-compatible: an Inflater is used by one thread at a time; the functions share no state.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "ferry/status.h"

namespace ferry::http {

enum class ContentCoding { kIdentity, kGzip, kDeflate };

const char* ContentCodingName(ContentCoding coding);  // "identity", "gzip", "deflate"

// The coding of a request body from its Content-Encoding value: absent or empty, "identity", "gzip", "x-gzip",
// "deflate" (case-insensitive, surrounding blanks ignored). nullopt for anything else, stacked codings
// ("gzip, gzip") included: the server answers those with 415.
std::optional<ContentCoding> ParseContentEncoding(std::string_view value);

// The response coding a client asks for with Accept-Encoding (RFC 9110 12.5.3): gzip or deflate when acceptable
// (q > 0, explicitly or through "*"), gzip preferred at equal weight; identity otherwise, also for an empty or
// malformed header.
ContentCoding NegotiateResponseCoding(std::string_view accept_encoding);

// A streaming decoder of one gzip or deflate body. Each Feed passes the decoded bytes to `out` in pieces of at
// most 64 KiB; decoding stops with the first error.
class Inflater {
 public:
  using Output = std::function<Status(const char* data, size_t size)>;

  // REQUIRES: coding != kIdentity.
  explicit Inflater(ContentCoding coding);
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Decodes the next `size` bytes of the body. InvalidArgument for corrupt data, data after the end of the
  // compressed stream, or a second gzip member; errors returned by `out` are passed through unchanged.
  Status Feed(const char* data, size_t size, const Output& out);
  // The body ended: InvalidArgument when the compressed stream is incomplete.
  Status Finish() const;

  uint64_t decoded_bytes() const { return decoded_; }

 private:
  Status Start(const unsigned char* first, size_t size);

  ContentCoding coding_;
  z_stream z_{};
  bool started_ = false;  // inflateInit2 has run (deferred until the first bytes tell raw from zlib deflate)
  bool ended_ = false;    // Z_STREAM_END seen
  uint64_t decoded_ = 0;
  std::string out_buf_;
  std::string head_;  // first bytes held back until there are two (see Start)
};

// `body` compressed with `coding` (gzip or deflate) at zlib level `level` (1 fastest .. 9 smallest).
// REQUIRES: coding != kIdentity. Internal only when zlib fails (out of memory).
Result<std::string> Compress(std::string_view body, ContentCoding coding, int level = 1);

}  // namespace ferry::http
