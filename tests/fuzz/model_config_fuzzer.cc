// Fuzzes the strict config.yaml parser (src/registry/model_config, over yaml-cpp).
//
// Properties, beyond "no crash, no UB, no leak, no exception":
//  - every error is InvalidArgument;
//  - a parsed config keeps the contract of model_config.h (ranges, ascending and distinct lists, label names,
//    instance kinds and the instance cap);
//  - ParseModelConfig(SerializeModelConfig(c)) == c, as model_config.h promises.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "registry/model_config.h"

namespace ferry {
namespace {

bool AscendingDistinct(const std::vector<int64_t>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] <= v[i - 1]) return false;
  }
  return true;
}

void CheckContract(const ModelConfig& c, const std::string& text) {
  const std::string where = "config:\n" + text.substr(0, 512);
  const VersionPolicy& p = c.version_policy;
  if (p.kind == VersionPolicy::Kind::kLatest) FUZZ_CHECK(p.num_versions >= 1, where);
  if (p.kind == VersionPolicy::Kind::kSpecific) {
    FUZZ_CHECK(!p.versions.empty() && AscendingDistinct(p.versions) && p.versions.front() >= 1, where);
  }
  for (const auto& [name, version] : c.labels) FUZZ_CHECK(IsValidLabelName(name) && version >= 1, where);
  FUZZ_CHECK(c.max_batch_size >= 0, where);
  if (c.dynamic_batching) {
    FUZZ_CHECK(c.max_batch_size >= 1 && c.dynamic_batching->max_queue_delay_us >= 0, where);
    const std::vector<int64_t>& sizes = c.dynamic_batching->preferred_batch_sizes;
    FUZZ_CHECK(AscendingDistinct(sizes), where);
    if (!sizes.empty()) FUZZ_CHECK(sizes.front() >= 1 && sizes.back() <= c.max_batch_size, where);
  }
  FUZZ_CHECK(c.max_queue_size >= 1 && c.default_timeout_us >= 0, where);
  int64_t total = 0;
  for (const InstanceGroupConfig& g : c.instances) {
    FUZZ_CHECK(g.kind == "cpu" || g.kind == "gpu", where);
    FUZZ_CHECK(g.count >= 1 && g.count <= kMaxInstancesPerModel, where);
    if (g.kind == "cpu") FUZZ_CHECK(g.gpus.empty(), where);
    total += g.count;
  }
  FUZZ_CHECK(total <= kMaxInstancesPerModel, where);
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Result<ModelConfig> config = ParseModelConfig(text);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == StatusCode::kInvalidArgument, config.status());
    return 0;
  }
  CheckContract(*config, text);
  const std::string serialized = SerializeModelConfig(*config);
  Result<ModelConfig> again = ParseModelConfig(serialized);
  FUZZ_CHECK(again.ok(), again.status().ToString() + "\nserialized:\n" + serialized);
  FUZZ_CHECK(*again == *config, "serialized:\n" + serialized + "\nparsed back:\n" + SerializeModelConfig(*again));
  return 0;
}
