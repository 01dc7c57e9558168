// A simulated device, for tests: proves the device machinery (placement, copies, streams, per-device memory)
// on a machine without a GPU, and catches what a GPU would punish.
//
// - Memory is its own heap with a fixed capacity: an allocation beyond it fails like cudaMalloc. The host must not
//   touch it (by contract: every copy and kernel checks that each pointer is in the right memory, and fails the
//   stream otherwise); new memory, freed memory and compute memory after each synchronization are poisoned
//   (0xFF bytes: NaN floats, -1 integers), so reading a value the plan never wrote, or one from an earlier run,
//   shows up as a wrong answer.
// - A stream runs its work on a thread of its own, after an optional delay per item, so a host read that does not
//   wait for the stream reads poison or stale bytes.
// - Its kernel table wraps the CPU kernels of a chosen subset of ops (all by default), so tests can force a model
//   to be split between the device and the CPU.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "backends/device.h"

namespace ferry::testing {

struct SimDeviceOptions {
  std::string id = "sim:0";
  size_t capacity_bytes = size_t{1} << 30;
  // Which ops its table runs (by op type); null: every op the CPU runs.
  std::function<bool(const std::string& op)> runs_op;
  // Microseconds each stream item waits before it runs (makes a missing wait fail reliably).
  int delay_us = 0;
};

// About half of the ops, chosen by name (an even sum of its characters): a device that runs these splits most
// models between itself and the CPU, with copies both ways.
bool SimSplitOps(const std::string& op);

// Creates and registers a simulated device (DeviceRegistry::Global()); a device with the same id is returned
// as is when already registered (tests in one process share it).
const Device* RegisterSimDevice(const SimDeviceOptions& options);

// Bytes of the simulated device's heap in use now.
size_t SimDeviceUsedBytes(const Device& device);

}  // namespace ferry::testing
