#include "registry/model_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <set>
#include <vector>

#include "registry/yaml_text.h"

namespace ferry {
namespace {

std::string Quote(std::string_view text) { return QuoteUserText(text); }
std::string Describe(const YAML::Node& node) { return DescribeYamlNode(node); }

// A plain (unquoted, untagged) decimal integer of at least `min`. Quoted "8", 0x8, 010, 8.0 and 1e3 are refused:
// yaml-cpp's own conversion would accept some of them, and the config should mean exactly what it shows.
Result<int64_t> ParseInt(const YAML::Node& node, const std::string& key, int64_t min) {
  const char* want = min > 0 ? "a positive integer" : "a non-negative integer";
  if (!node.IsScalar() || node.Tag() != "?") {
    return InvalidArgument("{}: expected {}, got {}", key, want, Describe(node));
  }
  const std::string& text = node.Scalar();
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgument("{}: {} is out of range", key, Quote(text));
  }
  // Leading zeros are refused: YAML 1.1 readers take 010 as octal 8, YAML 1.2 readers as 10.
  const bool leading_zero = text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0'));
  if (ec != std::errc() || ptr != end || text.empty() || leading_zero) {
    return InvalidArgument("{}: expected {}, got {}", key, want, Describe(node));
  }
  if (value < min) return InvalidArgument("{}: expected {}, got {}", key, want, value);
  return value;
}

// The entries of a map node, refusing non-scalar and duplicate keys (yaml-cpp keeps duplicates silently).
// A null node (`labels:` with nothing after it) is an empty map.
Result<std::vector<std::pair<std::string, YAML::Node>>> MapEntries(const YAML::Node& node, const std::string& key) {
  std::vector<std::pair<std::string, YAML::Node>> entries;
  if (node.IsNull()) return entries;
  if (!node.IsMap()) {
    return InvalidArgument("{}: expected a map, got {}", key.empty() ? "config" : key, Describe(node));
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string where = key.empty() ? std::string("config") : key;
    if (kv.first.IsNull()) {
      return InvalidArgument("{}: a key is empty or a YAML null word (null, ~); quote a name such as \"null\"", where);
    }
    if (!kv.first.IsScalar()) {
      return InvalidArgument("{}: keys must be names, got {}", where, Describe(kv.first));
    }
    const std::string& name = kv.first.Scalar();
    if (!seen.insert(name).second) return InvalidArgument("{}: duplicate key {}", where, Quote(name));
    entries.emplace_back(name, kv.second);
  }
  return entries;
}

std::string Join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

Result<VersionPolicy> ParseVersionPolicy(const YAML::Node& node) {
  const std::string key = "version_policy";
  constexpr const char* kChoices = "one of latest, all, specific";
  if (!node.IsMap() || node.size() != 1) {
    return InvalidArgument("{}: expected a map with exactly one of latest, all, specific, got {}", key,
                           node.IsMap() ? fmt::format("{} keys", node.size()) : Describe(node));
  }
  FERRY_ASSIGN_OR_RETURN(auto entries, MapEntries(node, key));
  const auto& [kind, body] = entries[0];
  const std::string where = Join(key, kind);
  VersionPolicy policy;
  if (kind == "latest") {
    policy.kind = VersionPolicy::Kind::kLatest;
    FERRY_ASSIGN_OR_RETURN(auto options, MapEntries(body, where));
    for (const auto& [name, value] : options) {
      if (name != "num_versions") {
        return InvalidArgument("{}: unknown key {} (expected num_versions)", where, Quote(name));
      }
      FERRY_ASSIGN_OR_RETURN(policy.num_versions, ParseInt(value, Join(where, name), 1));
    }
  } else if (kind == "all") {
    policy.kind = VersionPolicy::Kind::kAll;
    FERRY_ASSIGN_OR_RETURN(auto options, MapEntries(body, where));
    if (!options.empty()) {
      return InvalidArgument("{}: takes no options, got key {}", where, Quote(options[0].first));
    }
  } else if (kind == "specific") {
    policy.kind = VersionPolicy::Kind::kSpecific;
    FERRY_ASSIGN_OR_RETURN(auto options, MapEntries(body, where));
    bool have_versions = false;
    for (const auto& [name, value] : options) {
      const std::string list_key = Join(where, name);
      if (name != "versions") {
        return InvalidArgument("{}: unknown key {} (expected versions)", where, Quote(name));
      }
      if (!value.IsSequence() || value.size() == 0) {
        return InvalidArgument("{}: expected a non-empty list of versions, got {}", list_key,
                               value.IsSequence() ? "an empty list" : Describe(value));
      }
      for (size_t i = 0; i < value.size(); ++i) {
        FERRY_ASSIGN_OR_RETURN(int64_t v, ParseInt(value[i], fmt::format("{}[{}]", list_key, i), 1));
        if (std::find(policy.versions.begin(), policy.versions.end(), v) != policy.versions.end()) {
          return InvalidArgument("{}: version {} is listed twice", list_key, v);
        }
        policy.versions.push_back(v);
      }
      have_versions = true;
    }
    if (!have_versions) return InvalidArgument("{}: missing key \"versions\"", where);
    std::sort(policy.versions.begin(), policy.versions.end());
  } else {
    return InvalidArgument("{}: unknown policy {} (expected {})", key, Quote(kind), kChoices);
  }
  return policy;
}

Result<std::map<std::string, int64_t>> ParseLabels(const YAML::Node& node) {
  const std::string key = "labels";
  FERRY_ASSIGN_OR_RETURN(auto entries, MapEntries(node, key));
  std::map<std::string, int64_t> labels;
  for (const auto& [name, value] : entries) {
    if (!IsValidLabelName(name)) {
      return InvalidArgument("{}: label name {} must match [A-Za-z0-9_.-]+", key, Quote(name));
    }
    FERRY_ASSIGN_OR_RETURN(labels[name], ParseInt(value, Join(key, name), 1));
  }
  return labels;
}

Result<std::vector<int64_t>> ParseIntList(const YAML::Node& node, const std::string& key, int64_t min) {
  if (!node.IsSequence()) return InvalidArgument("{}: expected a list, got {}", key, Describe(node));
  std::vector<int64_t> out;
  for (size_t i = 0; i < node.size(); ++i) {
    FERRY_ASSIGN_OR_RETURN(int64_t v, ParseInt(node[i], fmt::format("{}[{}]", key, i), min));
    out.push_back(v);
  }
  return out;
}

Result<DynamicBatchingConfig> ParseDynamicBatching(const YAML::Node& node) {
  const std::string key = "dynamic_batching";
  FERRY_ASSIGN_OR_RETURN(auto entries, MapEntries(node, key));
  DynamicBatchingConfig config;
  for (const auto& [name, value] : entries) {
    if (name == "max_queue_delay_us") {
      FERRY_ASSIGN_OR_RETURN(config.max_queue_delay_us, ParseInt(value, Join(key, name), 0));
    } else if (name == "preferred_batch_sizes") {
      FERRY_ASSIGN_OR_RETURN(config.preferred_batch_sizes, ParseIntList(value, Join(key, name), 1));
      const auto& p = config.preferred_batch_sizes;
      for (size_t i = 1; i < p.size(); ++i) {
        if (p[i] <= p[i - 1]) return InvalidArgument("{}: must be ascending and distinct", Join(key, name));
      }
    } else {
      return InvalidArgument("{}: unknown key {} (expected max_queue_delay_us, preferred_batch_sizes)", key,
                             Quote(name));
    }
  }
  return config;
}

Result<std::vector<InstanceGroupConfig>> ParseInstances(const YAML::Node& node) {
  const std::string key = "instances";
  if (!node.IsSequence() || node.size() == 0) {
    return InvalidArgument("{}: expected a non-empty list like [{{kind: cpu, count: 2}}], got {}", key,
                           node.IsSequence() ? "an empty list" : Describe(node));
  }
  if (node.size() > kMaxInstancesPerModel) {
    return InvalidArgument("{}: {} groups; at most {} instances per model in all", key, node.size(),
                           kMaxInstancesPerModel);
  }
  std::vector<InstanceGroupConfig> groups;
  int64_t total = 0;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = fmt::format("{}[{}]", key, i);
    FERRY_ASSIGN_OR_RETURN(auto entries, MapEntries(node[i], where));
    InstanceGroupConfig g;
    for (const auto& [name, value] : entries) {
      if (name == "kind") {
        if (!value.IsScalar() || (value.Scalar() != "cpu" && value.Scalar() != "gpu")) {
          return InvalidArgument("{}.kind: expected cpu or gpu, got {}", where, Describe(value));
        }
        g.kind = value.Scalar();
      } else if (name == "count") {
        FERRY_ASSIGN_OR_RETURN(g.count, ParseInt(value, Join(where, name), 1));
        if (g.count > kMaxInstancesPerModel) {
          return InvalidArgument("{}.count: at most {}, got {}", where, kMaxInstancesPerModel, g.count);
        }
      } else if (name == "gpus") {
        FERRY_ASSIGN_OR_RETURN(g.gpus, ParseIntList(value, Join(where, name), 0));
      } else {
        return InvalidArgument("{}: unknown key {} (expected kind, count, gpus)", where, Quote(name));
      }
    }
    if (g.kind == "cpu" && !g.gpus.empty()) return InvalidArgument("{}: gpus is only for kind gpu", where);
    // Each instance is a thread with its own memory plan: the sum is bounded, not only each group.
    total += g.count;
    if (total > kMaxInstancesPerModel) {
      return InvalidArgument("{}: {} instances or more in all; at most {} per model", key, total,
                             kMaxInstancesPerModel);
    }
    groups.push_back(std::move(g));
  }
  return groups;
}

Result<ModelConfig> ParseDocument(const YAML::Node& root) {
  ModelConfig config;
  if (root.IsNull()) return config;  // an empty file or a lone "---"
  if (!root.IsMap()) return InvalidArgument("config: expected a map of keys to values, got {}", Describe(root));
  FERRY_ASSIGN_OR_RETURN(auto entries, MapEntries(root, ""));
  for (const auto& [name, value] : entries) {
    if (name == "version_policy") {
      FERRY_ASSIGN_OR_RETURN(config.version_policy, ParseVersionPolicy(value));
    } else if (name == "labels") {
      FERRY_ASSIGN_OR_RETURN(config.labels, ParseLabels(value));
    } else if (name == "max_batch_size") {
      FERRY_ASSIGN_OR_RETURN(config.max_batch_size, ParseInt(value, name, 0));
    } else if (name == "dynamic_batching") {
      FERRY_ASSIGN_OR_RETURN(config.dynamic_batching, ParseDynamicBatching(value));
    } else if (name == "max_queue_size") {
      FERRY_ASSIGN_OR_RETURN(config.max_queue_size, ParseInt(value, name, 1));
    } else if (name == "default_timeout_us") {
      FERRY_ASSIGN_OR_RETURN(config.default_timeout_us, ParseInt(value, name, 0));
    } else if (name == "instances") {
      FERRY_ASSIGN_OR_RETURN(config.instances, ParseInstances(value));
    } else {
      return InvalidArgument("unknown key {} (known keys: {})", Quote(name), fmt::join(kModelConfigKeys, ", "));
    }
  }
  if (config.dynamic_batching) {
    if (config.max_batch_size < 1) {
      return InvalidArgument("dynamic_batching needs max_batch_size >= 1 (the largest batch to form)");
    }
    for (int64_t p : config.dynamic_batching->preferred_batch_sizes) {
      if (p > config.max_batch_size) {
        return InvalidArgument("dynamic_batching.preferred_batch_sizes: {} is over max_batch_size {}", p,
                               config.max_batch_size);
      }
    }
  }
  return config;
}

}  // namespace

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

Result<ModelConfig> ParseModelConfig(const std::string& yaml_text) {
  if (yaml_text.size() > kMaxModelConfigBytes) {
    return InvalidArgument("config: {} bytes; a config.yaml has at most {}", yaml_text.size(), kMaxModelConfigBytes);
  }
  // The one boundary where yaml-cpp's exceptions (syntax errors, recursion depth, bad_alloc) become a Status.
  try {
    const YamlDocuments docs = LoadYamlDocuments(yaml_text);
    if (docs.count == 0) return ModelConfig();
    if (docs.count > 1) {
      return InvalidArgument("config: expected one YAML document, got {} (remove the extra \"---\")", docs.count);
    }
    return ParseDocument(docs.first);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config is not valid YAML: line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1,
                           e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument("config could not be read: {}", e.what());
  }
}

std::string SerializeModelConfig(const ModelConfig& config) {
  std::string out = "version_policy: ";
  const VersionPolicy& p = config.version_policy;
  switch (p.kind) {
    case VersionPolicy::Kind::kLatest:
      out += fmt::format("{{latest: {{num_versions: {}}}}}", p.num_versions);
      break;
    case VersionPolicy::Kind::kAll:
      out += "{all: {}}";
      break;
    case VersionPolicy::Kind::kSpecific:
      out += fmt::format("{{specific: {{versions: [{}]}}}}", fmt::join(p.versions, ", "));
      break;
  }
  // Label names are quoted: valid names such as "null" or "~" would otherwise read back as YAML nulls.
  out += "\nlabels: {";
  bool first = true;
  for (const auto& [name, version] : config.labels) {
    out += fmt::format("{}\"{}\": {}", first ? "" : ", ", name, version);
    first = false;
  }
  out += fmt::format("}}\nmax_batch_size: {}\n", config.max_batch_size);
  if (config.dynamic_batching) {
    out += fmt::format("dynamic_batching: {{max_queue_delay_us: {}, preferred_batch_sizes: [{}]}}\n",
                       config.dynamic_batching->max_queue_delay_us,
                       fmt::join(config.dynamic_batching->preferred_batch_sizes, ", "));
  }
  const ModelConfig defaults;
  if (config.max_queue_size != defaults.max_queue_size) {
    out += fmt::format("max_queue_size: {}\n", config.max_queue_size);
  }
  if (config.default_timeout_us != defaults.default_timeout_us) {
    out += fmt::format("default_timeout_us: {}\n", config.default_timeout_us);
  }
  if (!config.instances.empty()) {
    out += "instances: [";
    for (size_t i = 0; i < config.instances.size(); ++i) {
      const InstanceGroupConfig& g = config.instances[i];
      out += fmt::format("{}{{kind: {}, count: {}", i ? ", " : "", g.kind, g.count);
      if (!g.gpus.empty()) out += fmt::format(", gpus: [{}]", fmt::join(g.gpus, ", "));
      out += "}";
    }
    out += "]\n";
  }
  return out;
}

}  // namespace ferry
