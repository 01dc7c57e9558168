// Where the bytes of one request body go as they arrive: through a gzip/deflate decoder when the request has a
// Content-Encoding, then either into memory, counted against the server-wide MemoryBudget, or into a new file
// in a spool directory (model uploads, which may be a GiB and must not be buffered). Every size is checked
// before memory or disk is taken: the decoded size against the route's limit (a compression bomb stops at the
// limit, not at its expanded size), the memory against the budget.
//
// Errors are Status codes the server maps to HTTP: ResourceExhausted 413 (over the route's limit),
// Unavailable 503 (memory budget exhausted, or no space left for the spool file), InvalidArgument 400 (a corrupt
// compressed body), Internal 500 (the spool file cannot be written).
//
// Thread-compatible: one sink per request, used by the connection's I/O thread; MemoryBudget is thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ferry/status.h"
#include "http/content_coding.h"
#include "http/http_types.h"

namespace ferry::http {

// Bytes of request bodies held in memory by the whole server at once. Thread-safe.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes) {}
  // Takes `bytes` when they fit under the limit; false (and nothing taken) otherwise.
  bool TryAcquire(uint64_t bytes);
  void Release(uint64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

struct BodySinkOptions {
  uint64_t max_bytes = 64u << 20;  // decoded body bytes (and wire bytes); more is ResourceExhausted
  ContentCoding coding = ContentCoding::kIdentity;
  // The declared wire length (Content-Length), when there is one: an identity body in memory is charged and
  // reserved in one piece up front. REQUIRES: <= max_bytes.
  std::optional<uint64_t> content_length;
  // Bodies kept in memory are charged here; the sink and every request that holds its body share it (a request
  // may outlive the server).
  std::shared_ptr<MemoryBudget> budget;
  // Non-empty: the body goes to a new file `.ferry-body-<16 hex>` (mode 0600) in this directory instead.
  std::string spool_dir;
};

class BodySink {
 public:
  // Fails with Unavailable when the declared length does not fit the memory budget, Internal when the spool
  // file cannot be created.
  static Result<std::unique_ptr<BodySink>> Create(const BodySinkOptions& options);
  ~BodySink();  // removes an unfinished spool file, returns uncollected memory to the budget
  BodySink(const BodySink&) = delete;
  BodySink& operator=(const BodySink&) = delete;

  // The next `size` wire bytes of the body. After the first error every call returns that error again.
  Status Write(const char* data, size_t size);
  // The body is complete (a truncated compressed stream fails here).
  Status Finish();
  // After a successful Finish: hands the body to the request (`body` and `body_lease`, or `body_file`).
  void MoveInto(HttpRequest& request);

  uint64_t wire_bytes() const { return wire_; }
  const Status& status() const { return failed_; }  // the first error, or OK

 private:
  struct Lease;
  explicit BodySink(const BodySinkOptions& options);
  Status Append(const char* data, size_t size);  // decoded bytes
  Status Reserve(uint64_t capacity);             // memory: charge the budget, grow the string

  BodySinkOptions options_;
  std::unique_ptr<Inflater> inflater_;
  Status failed_;
  uint64_t wire_ = 0;
  uint64_t decoded_ = 0;
  // Memory destination.
  std::string body_;
  std::shared_ptr<Lease> lease_;  // what body_ has charged to the budget
  // File destination.
  int fd_ = -1;
  std::string file_path_;
  bool file_done_ = false;
};

}  // namespace ferry::http
