// The plain structs of the server facade (ferry/server.h): version states, model status, signatures, statistics
// and the results of repository operations. Data only: copyable, no synchronization, nothing of the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ferry/dtype.h"

namespace ferry {

// One state per model version, nothing else (src/server/model_manager.h has the transitions):
//   LOADING --ok--> AVAILABLE --no longer desired--> UNLOADING --last request done--> END
//      \--error--> FAILED
enum class VersionState { kLoading, kAvailable, kUnloading, kEnd, kFailed };

// "LOADING", "AVAILABLE", "UNLOADING", "END", "FAILED" (the names the status APIs show).
inline const char* VersionStateName(VersionState state) {
  switch (state) {
    case VersionState::kLoading:
      return "LOADING";
    case VersionState::kAvailable:
      return "AVAILABLE";
    case VersionState::kUnloading:
      return "UNLOADING";
    case VersionState::kEnd:
      return "END";
    case VersionState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

struct VersionStatus {
  int64_t version = 0;
  VersionState state = VersionState::kLoading;
  std::string error;  // kFailed: the loader's message
};

struct ModelStatus {
  std::string name;
  bool in_repository = true;            // false: removed from disk, versions still unloading or ended
  std::string error;                    // the model's own problem (e.g. an invalid config.yaml), empty when none
  std::vector<VersionStatus> versions;  // ascending
};

// One row of the KServe repository index.
struct IndexEntry {
  std::string name;
  std::optional<int64_t> version;  // absent for a model without loaded or tried versions
  std::string state;               // "READY", "LOADING", "UNLOADING", "UNAVAILABLE", or "" (never loaded)
  std::string reason;              // why UNAVAILABLE ("unloaded", the load error), else ""
};

// What an upload produced.
struct UploadResult {
  int64_t version = 0;
  VersionState state = VersionState::kLoading;  // after the reconcile that followed the upload
  std::string error;                            // kFailed only
  bool served = false;                          // false: the version policy does not select it
};

// One dimension of a signature: `size` >= 0 is fixed; -1 is symbolic, `name` its ONNX dim_param (may be empty).
struct DimInfo {
  int64_t size = -1;
  std::string name;
};

// One input or output of a model version.
struct TensorInfo {
  std::string name;
  DataType dtype = DataType::kUndefined;
  bool has_shape = false;  // false: the rank is unknown
  std::vector<DimInfo> shape;
};

// When a request ran (Server::Infer's callback).
struct InferTiming {
  double queue_seconds = 0;    // queued -> its batch started
  double compute_seconds = 0;  // the batch's input assembly + run + output split
  int64_t batch_rows = 0;      // rows of the batch it ran in; 0: it never ran (e.g. expired in the queue)
};

// A count and the nanoseconds it took in all (Triton's statistics extension).
struct DurationTotals {
  uint64_t count = 0;
  uint64_t ns = 0;
};

struct BatchStatistics {
  int64_t batch_size = 0;  // rows
  DurationTotals compute_input, compute_infer, compute_output;
};

// One version's totals since it loaded (the KServe statistics extension).
struct VersionStatistics {
  std::string model;
  int64_t version = 0;
  uint64_t inference_count = 0;   // rows of successful requests
  uint64_t execution_count = 0;   // batches run
  int64_t last_inference_ms = 0;  // ms since the epoch of the last batch; 0: never
  DurationTotals success, fail, queue, compute_input, compute_infer, compute_output;
  std::vector<BatchStatistics> batches;  // by batch size, ascending
  uint64_t memory_bytes = 0;             // weights + the intermediates its instances planned, in bytes
  // The same by device (Triton's memory_usage): type "CPU" (id 0) or "GPU" (id: the accelerator's index), bytes.
  struct DeviceMemory {
    std::string type;
    int64_t id = 0;
    uint64_t bytes = 0;
  };
  std::vector<DeviceMemory> memory;
};

// One answered request, for the server's metrics (Server::RequestAnswered).
struct RequestRecord {
  std::string protocol;  // "tfs", "kserve", "ferry", or ""
  std::string model;     // "" unless the request reached a version
  std::string version;   // "" unless the request reached a version
  int status = 0;        // the HTTP status sent
  double seconds = 0;    // handed in -> answered
};

}  // namespace ferry
