#include "http/body_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace ferry::http {
namespace {

constexpr uint64_t kFirstPiece = 64 * 1024;  // first in-memory capacity when the size is not declared

std::string SpoolName() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format(".ferry-body-{:016x}", rng());
}

}  // namespace

SpooledFile::~SpooledFile() { ::unlink(path_.c_str()); }  // ENOENT when the handler moved it: fine

bool MemoryBudget::TryAcquire(uint64_t bytes) {
  uint64_t used = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ || used > limit_ - bytes) return false;
  } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
  return true;
}

// The bytes one in-memory body has taken from the budget; given back when the last holder (the sink, then the
// request and its copies) lets go.
struct BodySink::Lease {
  std::shared_ptr<MemoryBudget> budget;
  uint64_t charged = 0;
  ~Lease() {
    if (budget != nullptr && charged > 0) budget->Release(charged);
  }
};

BodySink::BodySink(const BodySinkOptions& options) : options_(options) {}

Result<std::unique_ptr<BodySink>> BodySink::Create(const BodySinkOptions& options) {
  std::unique_ptr<BodySink> sink(new BodySink(options));
  if (options.coding != ContentCoding::kIdentity) sink->inflater_ = std::make_unique<Inflater>(options.coding);
  if (!options.spool_dir.empty()) {
    for (int attempt = 0; attempt < 8 && sink->fd_ < 0; ++attempt) {
      sink->file_path_ = options.spool_dir + "/" + SpoolName();
      sink->fd_ = ::open(sink->file_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (sink->fd_ < 0 && errno != EEXIST) break;
    }
    if (sink->fd_ < 0) {
      const int err = errno;
      sink->file_path_.clear();
      if (err == ENOSPC || err == EDQUOT) return Status(StatusCode::kUnavailable, "no space left for the request body");
      return Internal("cannot create a spool file in {}: {}", options.spool_dir, std::strerror(err));
    }
    return sink;
  }
  if (options.budget == nullptr) return Internal("BodySink: no memory budget");
  sink->lease_ = std::make_shared<Lease>();
  sink->lease_->budget = options.budget;
  if (options.content_length && options.coding == ContentCoding::kIdentity && *options.content_length > 0) {
    FERRY_RETURN_IF_ERROR(sink->Reserve(*options.content_length));
  }
  return sink;
}

BodySink::~BodySink() {
  if (fd_ >= 0) ::close(fd_);
  if (!file_path_.empty() && !file_done_) ::unlink(file_path_.c_str());
}

Status BodySink::Reserve(uint64_t capacity) {
  if (capacity <= lease_->charged) return Status::Ok();
  const uint64_t more = capacity - lease_->charged;
  if (!options_.budget->TryAcquire(more)) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("the server holds too many request bodies in memory (limit {} bytes); retry later",
                              options_.budget->limit()));
  }
  lease_->charged = capacity;
  body_.reserve(static_cast<size_t>(capacity));
  return Status::Ok();
}

Status BodySink::Append(const char* data, size_t size) {
  if (size > options_.max_bytes - std::min(decoded_, options_.max_bytes)) {
    return ResourceExhausted("request body exceeds the limit of {} bytes", options_.max_bytes);
  }
  decoded_ += size;
  if (fd_ >= 0) {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        if (errno == ENOSPC || errno == EDQUOT) {
          return Status(StatusCode::kUnavailable, "no space left for the request body");
        }
        return Internal("cannot write the request body to {}: {}", file_path_, std::strerror(errno));
      }
      data += n;
      size -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }
  if (body_.size() + size > lease_->charged) {
    // Grow geometrically, charging the budget before the memory is taken.
    const uint64_t want = std::max<uint64_t>({body_.size() + size, 2 * lease_->charged, kFirstPiece});
    FERRY_RETURN_IF_ERROR(Reserve(std::min<uint64_t>(want, options_.max_bytes)));
  }
  body_.append(data, size);
  return Status::Ok();
}

Status BodySink::Write(const char* data, size_t size) {
  if (!failed_.ok()) return failed_;
  if (size > options_.max_bytes - std::min(wire_, options_.max_bytes)) {
    failed_ = ResourceExhausted("request body exceeds the limit of {} bytes", options_.max_bytes);
    return failed_;
  }
  wire_ += size;
  failed_ = inflater_ ? inflater_->Feed(data, size, [this](const char* p, size_t n) { return Append(p, n); })
                      : Append(data, size);
  return failed_;
}

Status BodySink::Finish() {
  if (!failed_.ok()) return failed_;
  if (inflater_ && wire_ > 0) failed_ = inflater_->Finish();
  if (failed_.ok() && fd_ >= 0) {
    if (::close(fd_) != 0)
      failed_ = Internal("cannot write the request body to {}: {}", file_path_, std::strerror(errno));
    fd_ = -1;
  }
  return failed_;
}

void BodySink::MoveInto(HttpRequest& request) {
  if (!file_path_.empty()) {
    file_done_ = true;
    request.body_file = std::make_shared<SpooledFile>(file_path_, decoded_);
    return;
  }
  request.body = std::move(body_);
  request.body_lease = lease_;
}

}  // namespace ferry::http
