#include "backends/buffer.h"

namespace ferry {

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    Release();
    type_ = other.type_;
    data_ = other.data_;
    size_ = other.size_;
    usage_ = other.usage_;
    other.type_ = nullptr;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void Buffer::Release() {
  if (type_ && data_) type_->FreeRaw(data_, size_ == 0 ? 1 : size_, usage_);
  type_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

Location Buffer::location() const { return type_ ? type_->location() : kHostLocation; }

Result<Buffer> BufferType::Allocate(size_t bytes, BufferUsage usage) const {
  // An empty request still gets memory, so data() is a distinct non-null pointer like any other.
  const size_t raw = bytes == 0 ? 1 : bytes;
  if (raw > SIZE_MAX - alignment()) return ResourceExhausted("cannot allocate {} bytes on {}", bytes, name());
  void* data = AllocateRaw(raw, usage);
  if (data == nullptr) return ResourceExhausted("out of memory allocating {} bytes on {}", bytes, name());
  return Buffer(this, data, bytes, usage);
}

}  // namespace ferry
