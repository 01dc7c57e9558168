// Plan: how one input signature of a model runs, as data: steps (kernels and the copies between devices), where
// every value lives, and one arena per memory location. Made by Model::BuildPlan (plan_builder.cc), run by a
// Session, which owns it: not thread-safe (its kernels keep per-plan state).
//
// Values are numbered as in the graph; values the plan adds (a value's copy on another device, a constant's copy
// in device memory, a graph output's host copy) are numbered after the graph's.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backends/device.h"
#include "common/tensor.h"
#include "kernels/kernel.h"

namespace ferry {

class WeightStore;

struct PlanStep {
  enum class Kind {
    kKernel,  // node's kernel on `location`'s device (its stream)
    kCopy,    // inputs[0] -> outputs[0]; exactly one side is host memory; on the device side's stream
  };
  Kind kind = Kind::kKernel;
  Location location = kHostLocation;  // kKernel: where it runs; kCopy: the device whose stream copies
  int node = -1;                      // kKernel: index in Model::graph().nodes; kCopy: the consumer's, or -1
  std::unique_ptr<Kernel> kernel;
  KernelContext ctx;         // shapes, types and locations set; data pointers bound per run
  std::vector<int> inputs;   // plan value ids (-1 absent)
  std::vector<int> outputs;  // plan value ids
  // kCopy to the host: the host waits for it at once (a host step reads it next); false for graph outputs,
  // which the end of the run waits for.
  bool wait = false;
};

// Where a value lives during a run.
struct ValueSlot {
  enum class Kind { kUnused, kInput, kConstant, kArena, kOutput };
  Kind kind = Kind::kUnused;
  int index = -1;  // kInput: graph input index; kOutput: graph output index
  Location location = kHostLocation;
  Tensor constant;                    // kConstant: the value in host memory
  const void* device_data = nullptr;  // kConstant on a device: its copy there (weights or plan constants)
  size_t offset = 0;                  // kArena: in `location`'s arena
  DataType dtype = DataType::kUndefined;
  Shape shape;
};

// Intermediate memory of one location.
struct ArenaPlan {
  size_t arena_bytes = 0;         // peak with reuse: what the arena must hold
  size_t intermediate_bytes = 0;  // sum of all intermediates without reuse
  size_t scratch_bytes = 0;       // largest kernel scratch, placed after the arena
  size_t bytes() const { return (arena_bytes + 63) / 64 * 64 + scratch_bytes + 64; }
};

struct Plan {
  std::string key;
  std::vector<PlanStep> steps;
  std::vector<ValueSlot> slots;          // by plan value id
  std::vector<int> output_values;        // per graph output: the plan value holding it when the run ends (host)
  std::map<Location, ArenaPlan> arenas;  // every location with steps or intermediates; the host always
  size_t output_bytes = 0;               // graph outputs computed at run time (host memory)
  int folded_nodes = 0;                  // nodes computed while planning
  int copies = 0;                        // copy steps
  // Weights in device memory, per device the plan uses (shared with every plan of the model on that device),
  // and constants made while planning, uploaded for this plan alone.
  std::map<Location, std::shared_ptr<WeightStore>> weights;
  std::vector<Buffer> plan_constants;
  std::vector<std::unique_ptr<Event>> events;  // per kCopy-to-host step with wait (indexed by step)

  // Host intermediates, for callers that know only the CPU.
  const ArenaPlan& host() const { return arenas.at(kHostLocation); }
  // Bytes of the constants the plan reads at `location` (for a device: its copies of them), for inspect and
  // admission.
  size_t weight_bytes(Location location) const;
};

}  // namespace ferry
