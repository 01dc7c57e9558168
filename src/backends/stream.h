// Streams and events: ordered, possibly asynchronous work on one device (CUDA streams and events, ggml's
// backend and event).
//
// Work queued on a stream runs in the order it was queued, possibly after the call that queued it returns
// (DeviceCapabilities::async). The caller keeps every buffer a queued copy or kernel touches alive and unchanged
// until the stream has passed that work: until Synchronize returns, or an event recorded after it has completed.
// An error in queued work is reported by a later call on the stream (Synchronize at the latest), as CUDA's are.
//
// A stream belongs to one worker: it is not thread-safe, and destroying it waits for its queued work.
#pragma once

#include <cstddef>
#include <memory>

#include "common/status.h"

namespace ferry {

class Device;

// A point in a stream's work. Created by Device::CreateEvent; recorded on a stream of the same device.
class Event {
 public:
  virtual ~Event() = default;
  // Blocks the calling (host) thread until the work queued before the last Record has run. OK at once when
  // never recorded.
  virtual Status Synchronize() = 0;
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual const Device& device() const = 0;

  // dst: this device's memory; src: host memory.
  virtual Status CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  // dst: host memory; src: this device's memory.
  virtual Status CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  // Both in this device's memory (e.g. a batch's rows gathered into staging).
  virtual Status CopyOnDevice(void* dst, const void* src, size_t bytes) = 0;

  // Marks the current end of the queued work in `event` (replacing an earlier mark).
  virtual Status Record(Event& event) = 0;
  // Later work on this stream starts after `event`'s work, which may be on another stream of the device.
  virtual Status Wait(Event& event) = 0;
  // Blocks the host until everything queued has run; the first error of queued work since the last call.
  virtual Status Synchronize() = 0;

  // What kernels see as KernelContext::stream(): the native handle (a cudaStream_t), nullptr on the CPU.
  virtual void* native() = 0;
};

}  // namespace ferry
