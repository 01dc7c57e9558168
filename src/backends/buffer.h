// Buffer types and buffers: memory of one kind on one device (ggml-backend's buffer type and buffer).
//
// A BufferType allocates; a Buffer owns one allocation and returns it to its type when destroyed (RAII,
// move-only). A buffer type lives as long as its device, which lives as long as the process (device_registry.h),
// so a buffer never outlives its type. Buffer types are thread-safe; a Buffer is not synchronized.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "common/tensor.h"

namespace ferry {

// What a buffer holds. Weights are written once and read by every run; compute memory (arenas, staging)
// holds nothing from one run to the next, so a device may discard it between runs (the simulated device
// poisons it to catch a read of stale data).
enum class BufferUsage { kWeights, kCompute };

class BufferType;

class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { Release(); }
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  BufferUsage usage() const { return usage_; }
  // nullptr for an empty buffer.
  const BufferType* type() const { return type_; }
  // Where the bytes are; kHostLocation for an empty buffer.
  Location location() const;
  explicit operator bool() const { return data_ != nullptr; }

 private:
  friend class BufferType;
  Buffer(const BufferType* type, void* data, size_t size, BufferUsage usage)
      : type_(type), data_(data), size_(size), usage_(usage) {}
  void Release();

  const BufferType* type_ = nullptr;
  void* data_ = nullptr;
  size_t size_ = 0;
  BufferUsage usage_ = BufferUsage::kCompute;
};

class BufferType {
 public:
  virtual ~BufferType() = default;
  // "cpu", "sim:0", "cuda:0", "cuda_host".
  virtual std::string_view name() const = 0;
  // Every allocation's start is a multiple of this (a power of two, at least 64).
  virtual size_t alignment() const = 0;
  // Host code may read and write its memory (the CPU's, or pinned host memory of a device).
  virtual bool is_host() const = 0;
  // The location tensors in this memory carry: kHostLocation for host memory, else the device's.
  virtual Location location() const = 0;

  // At least `bytes` (0 is allowed and still gives a distinct buffer), zero-filled on the host, unspecified on
  // a device. ResourceExhausted naming the bytes when the memory is not there.
  Result<Buffer> Allocate(size_t bytes, BufferUsage usage) const;

 protected:
  // REQUIRES: bytes > 0. nullptr when out of memory.
  virtual void* AllocateRaw(size_t bytes, BufferUsage usage) const = 0;
  // Returns what AllocateRaw gave, with the same size and usage.
  virtual void FreeRaw(void* data, size_t bytes, BufferUsage usage) const = 0;

 private:
  friend class Buffer;
};

}  // namespace ferry
