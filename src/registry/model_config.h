// ModelConfig: the optional `<repo>/<model>/config.yaml`, parsed strictly.
//
//   version_policy: {latest: {num_versions: 1}}   # or {all: {}} or {specific: {versions: [1, 3]}}
//   labels: {stable: 1, canary: 2}                # TF Serving version labels
//   max_batch_size: 8                             # 0: the model has no batch dimension
//
// Every key is optional (an empty file is the default config). Unknown keys, duplicate keys, quoted numbers,
// non-decimal or out-of-range numbers and more than one YAML document are refused, so a typo never passes
// silently. The parser is the only place yaml-cpp is used; its exceptions never leave model_config.cc.
// Thread-safe: no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"
#include "registry/version_policy.h"

namespace ferry {

struct ModelConfig {
  VersionPolicy version_policy;  // default: latest 1
  // Label name -> version. Names match [A-Za-z0-9_.-]+, versions are >= 1. Whether the version exists is the
  // manager's business (TF Serving refuses a label pointing at a version that is not available).
  std::map<std::string, int64_t> labels;
  // Largest batch a request may carry; 0 (the default) means the model has no batch dimension.
  int64_t max_batch_size = 0;

  bool operator==(const ModelConfig&) const = default;
};

// The top-level keys ParseModelConfig accepts.
inline constexpr const char* kModelConfigKeys[] = {"version_policy", "labels", "max_batch_size"};

// True when `name` matches [A-Za-z0-9_.-]+.
bool IsValidLabelName(std::string_view name);

// Parses config.yaml text. Every problem is InvalidArgument whose message names the key and what is wrong,
// e.g. "max_batch_size: expected a non-negative integer, got \"eight\"" or "unknown key \"lables\"".
Result<ModelConfig> ParseModelConfig(const std::string& yaml_text);

// Renders `config` as YAML, every key written out (defaults included) in the order of kModelConfigKeys.
// ParseModelConfig(SerializeModelConfig(c)) == c for every config ParseModelConfig can return.
std::string SerializeModelConfig(const ModelConfig& config);

}  // namespace ferry
