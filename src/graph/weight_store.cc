#include "graph/weight_store.h"

namespace ferry {

Result<Buffer> UploadToDevice(const Device& device, const void* data, size_t bytes, BufferUsage usage) {
  FERRY_ASSIGN_OR_RETURN(Buffer buffer, device.buffer_type().Allocate(bytes, usage));
  FERRY_ASSIGN_OR_RETURN(std::unique_ptr<Stream> stream, device.CreateStream());
  FERRY_RETURN_IF_ERROR(stream->CopyToDevice(buffer.data(), data, bytes));
  FERRY_RETURN_IF_ERROR(stream->Synchronize());
  return buffer;
}

Result<const void*> WeightStore::Get(int value, const Tensor& host) {
  MutexLock lock(mu_);
  auto it = buffers_.find(value);
  if (it != buffers_.end()) return static_cast<const void*>(it->second.data());
  FERRY_ASSIGN_OR_RETURN(Buffer buffer, UploadToDevice(device_, host.data(), host.nbytes(), BufferUsage::kWeights));
  const void* data = buffer.data();
  bytes_ += buffer.size();
  buffers_.emplace(value, std::move(buffer));
  return data;
}

std::shared_ptr<const void> WeightStore::Derived(int value, const std::string& layout,
                                                 const std::function<std::shared_ptr<const void>()>& make) {
  MutexLock lock(mu_);
  auto key = std::make_pair(value, layout);
  auto it = derived_.find(key);
  if (it != derived_.end()) return it->second;
  std::shared_ptr<const void> made = make();
  if (made) derived_.emplace(std::move(key), made);
  return made;
}

size_t WeightStore::bytes() const {
  MutexLock lock(mu_);
  return bytes_;
}

}  // namespace ferry
