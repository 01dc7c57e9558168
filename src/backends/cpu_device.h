// The CPU device: host memory, synchronous streams, OpenMP/OpenBLAS threads pinned per worker. The reference
// and universal fallback: every op any backend runs, it runs.
#pragma once

#include <memory>

#include "backends/device.h"

namespace ferry {

// A new CPU device; the registry makes the one every process uses (CpuDevice()).
std::shared_ptr<Device> MakeCpuDevice();

// Host memory: 64-byte aligned, zero-filled.
const BufferType& HostBufferType();

}  // namespace ferry
