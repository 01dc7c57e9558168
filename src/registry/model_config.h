// ModelConfig: the optional `<repo>/<model>/config.yaml`, parsed strictly.
//
//   version_policy: {latest: {num_versions: 1}}   # or {all: {}} or {specific: {versions: [1, 3]}}
//   labels: {stable: 1, canary: 2}                # TF Serving version labels
//   max_batch_size: 8                             # 0: the model has no batch dimension
//   dynamic_batching: {max_queue_delay_us: 500, preferred_batch_sizes: [4, 8]}   # present: batching on
//   max_queue_size: 1024                          # requests waiting per version; more get 503
//   default_timeout_us: 0                         # queue deadline per request; 0: none
//   instances: [{kind: cpu, count: 2}]            # execution instances; kind gpu takes gpus: [0, 1]
//
// Every key is optional (an empty file is the default config). Unknown keys, duplicate keys, quoted numbers,
// non-decimal or out-of-range numbers and more than one YAML document are refused, so a typo never passes
// silently. The parser is the only place yaml-cpp is used; its exceptions never leave model_config.cc.
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"
#include "registry/version_policy.h"

namespace ferry {

// The dynamic batcher's settings; its presence in a config turns batching on.
struct DynamicBatchingConfig {
  int64_t max_queue_delay_us = 0;              // microseconds the oldest request waits for company; 0: never
  std::vector<int64_t> preferred_batch_sizes;  // ascending, distinct, each in [1, max_batch_size]

  bool operator==(const DynamicBatchingConfig&) const = default;
};

// Execution instances of one model, all groups together (each is a thread with its own memory plan).
inline constexpr int64_t kMaxInstancesPerModel = 256;
// The largest config.yaml accepted (a config is a few lines; bigger is a mistake or an attack).
inline constexpr size_t kMaxModelConfigBytes = 64 * 1024;

// A group of identical execution instances (Triton's instance_group).
struct InstanceGroupConfig {
  std::string kind = "cpu";   // "cpu" or "gpu"
  int64_t count = 1;          // >= 1
  std::vector<int64_t> gpus;  // kind gpu: device ids

  bool operator==(const InstanceGroupConfig&) const = default;
};

struct ModelConfig {
  VersionPolicy version_policy;  // default: latest 1
  // Label name -> version. Names match [A-Za-z0-9_.-]+, versions are >= 1. Whether the version exists is the
  // manager's business (TF Serving refuses a label pointing at a version that is not available).
  std::map<std::string, int64_t> labels;
  // Largest batch a request may carry; 0 (the default) means the model has no batch dimension.
  int64_t max_batch_size = 0;
  // Batching; nullopt: off (each request runs on its own). Needs max_batch_size >= 1.
  std::optional<DynamicBatchingConfig> dynamic_batching;
  int64_t max_queue_size = 1024;               // requests waiting per version, >= 1
  int64_t default_timeout_us = 0;              // microseconds a request may wait in the queue; 0: no limit
  std::vector<InstanceGroupConfig> instances;  // empty: one cpu instance

  bool operator==(const ModelConfig&) const = default;
};

// The top-level keys ParseModelConfig accepts.
inline constexpr const char* kModelConfigKeys[] = {"version_policy",   "labels",         "max_batch_size",
                                                   "dynamic_batching", "max_queue_size", "default_timeout_us",
                                                   "instances"};

// True when `name` matches [A-Za-z0-9_.-]+.
bool IsValidLabelName(std::string_view name);

// Parses config.yaml text. Every problem is InvalidArgument whose message names the key and what is wrong,
// e.g. "max_batch_size: expected a non-negative integer, got \"eight\"" or "unknown key \"lables\"".
Result<ModelConfig> ParseModelConfig(const std::string& yaml_text);

// Renders `config` as YAML in the order of kModelConfigKeys: the first three keys always, the others only when
// they differ from their defaults.
// ParseModelConfig(SerializeModelConfig(c)) == c for every config ParseModelConfig can return.
std::string SerializeModelConfig(const ModelConfig& config);

}  // namespace ferry
