// ParseModelConfig / SerializeModelConfig: accepted configs with hand-written expected structs, and refused
// ones with the key the message must name.
#include "registry/model_config.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

ModelConfig Parse(const std::string& text) {
  auto r = ParseModelConfig(text);
  EXPECT_TRUE(r.ok()) << text << " -> " << r.status().ToString();
  return r.ok() ? *r : ModelConfig();
}

// A plain scalar cannot start with ',' (YAML 1.2, 7.3.3: ns-plain-first), so these are not YAML. yaml-cpp 0.7's
// LoadAll read them forever, taking memory as it went (found by tests/fuzz/model_config_fuzzer), and its Load
// takes them for an empty document.
TEST(ModelConfigTest, AStrayCommaIsNotYaml) {
  const std::pair<const char*, const char*> rows[] = {
      {",", "line 1, column 1"},
      {" ,", "line 1, column 2"},
      {",a", "line 1, column 1"},
      {"[1, 2],", "line 1, column 7"},
      {"max_batch_size: 1\n---\n,", "line 3, column 1"},
  };
  for (const auto& [text, where] : rows) {
    auto r = ParseModelConfig(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find(std::string("config is not valid YAML: ") + where), std::string::npos)
        << text << " -> " << r.status().message();
  }
}

TEST(ModelConfigTest, EmptyIsDefault) {
  ModelConfig want;  // latest 1, no labels, max_batch_size 0
  EXPECT_EQ(Parse(""), want);
  EXPECT_EQ(Parse("# just a comment\n"), want);
  EXPECT_EQ(Parse("---\n"), want);
  EXPECT_EQ(want.version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(want.version_policy.num_versions, 1);
  EXPECT_EQ(want.max_batch_size, 0);
}

TEST(ModelConfigTest, TheIssueExample) {
  ModelConfig c = Parse(
      "version_policy: {latest: {num_versions: 1}}   # or {all: {}}\n"
      "labels: {stable: 1, canary: 2}\n"
      "max_batch_size: 8\n");
  EXPECT_EQ(c.version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(c.version_policy.num_versions, 1);
  EXPECT_EQ(c.labels, (std::map<std::string, int64_t>{{"canary", 2}, {"stable", 1}}));
  EXPECT_EQ(c.max_batch_size, 8);
}

TEST(ModelConfigTest, Policies) {
  ModelConfig latest = Parse("version_policy:\n  latest:\n    num_versions: 3\n");
  EXPECT_EQ(latest.version_policy.kind, VersionPolicy::Kind::kLatest);
  EXPECT_EQ(latest.version_policy.num_versions, 3);

  ModelConfig latest_default = Parse("version_policy: {latest: {}}");
  EXPECT_EQ(latest_default.version_policy.num_versions, 1);
  EXPECT_EQ(Parse("version_policy: {latest: }").version_policy.num_versions, 1);

  EXPECT_EQ(Parse("version_policy: {all: {}}").version_policy.kind, VersionPolicy::Kind::kAll);
  EXPECT_EQ(Parse("version_policy:\n  all:\n").version_policy.kind, VersionPolicy::Kind::kAll);

  ModelConfig specific = Parse("version_policy: {specific: {versions: [3, 1]}}");
  EXPECT_EQ(specific.version_policy.kind, VersionPolicy::Kind::kSpecific);
  EXPECT_EQ(specific.version_policy.versions, (std::vector<int64_t>{1, 3}));  // kept sorted
  ModelConfig block = Parse("version_policy:\n  specific:\n    versions:\n      - 7\n");
  EXPECT_EQ(block.version_policy.versions, (std::vector<int64_t>{7}));
}

TEST(ModelConfigTest, LabelsAndBatch) {
  ModelConfig c = Parse("labels:\n  prod-2.v_1: 12\n  \"null\": 3\nmax_batch_size: 0\n");
  EXPECT_EQ(c.labels, (std::map<std::string, int64_t>{{"null", 3}, {"prod-2.v_1", 12}}));
  EXPECT_EQ(c.max_batch_size, 0);
  EXPECT_TRUE(Parse("labels:\n").labels.empty());
  EXPECT_TRUE(Parse("labels: {}\n").labels.empty());
  EXPECT_EQ(Parse("max_batch_size: 9223372036854775807").max_batch_size, INT64_MAX);
}

struct Bad {
  const char* yaml;
  const char* message_has;  // a substring the message must contain
};

TEST(ModelConfigTest, RefusesWithAClearMessage) {
  const Bad rows[] = {
      {"lables: {stable: 1}", "unknown key \"lables\""},
      {"instances: [{kind: cpu, count: 257}]", "instances[0].count: at most 256, got 257"},
      {"instances: [{count: 200}, {count: 57}]", "instances: 257 instances or more in all; at most 256 per model"},
      {"max_batch_size: 8\nversion_polcy: {all: {}}", "unknown key \"version_polcy\""},
      {"- 1\n- 2\n", "config: expected a map of keys to values, got a list"},
      {"just text", "config: expected a map of keys to values, got \"just text\""},
      {"max_batch_size: 8\nmax_batch_size: 9\n", "duplicate key \"max_batch_size\""},
      {"max_batch_size: -1", "max_batch_size: expected a non-negative integer, got -1"},
      {"max_batch_size: eight", "max_batch_size: expected a non-negative integer, got \"eight\""},
      {"max_batch_size: \"8\"", "max_batch_size: expected a non-negative integer, got the quoted string \"8\""},
      {"max_batch_size: 8.0", "max_batch_size: expected a non-negative integer, got \"8.0\""},
      {"max_batch_size: 0x8", "max_batch_size: expected a non-negative integer, got \"0x8\""},
      {"max_batch_size: 1e3", "got \"1e3\""},
      {"max_batch_size: +8", "got \"+8\""},
      {"max_batch_size: 010", "max_batch_size: expected a non-negative integer, got \"010\""},
      {"max_batch_size: 00", "got \"00\""},
      {"labels: {a: -01}", "labels.a: expected a positive integer, got \"-01\""},
      {"labels: {null: 1}", "labels: a key is empty or a YAML null word (null, ~); quote a name"},
      {"labels:\n  ~: 1\n", "labels: a key is empty or a YAML null word"},
      {"max_batch_size: !!int 8", "max_batch_size: expected a non-negative integer"},
      {"max_batch_size: 99999999999999999999", "max_batch_size: \"99999999999999999999\" is out of range"},
      {"max_batch_size:", "max_batch_size: expected a non-negative integer, got nothing"},
      {"max_batch_size: [8]", "max_batch_size: expected a non-negative integer, got a list"},
      {"version_policy: latest", "version_policy: expected a map with exactly one of latest, all, specific"},
      {"version_policy:", "version_policy: expected a map with exactly one of latest, all, specific, got nothing"},
      {"version_policy: {}", "version_policy: expected a map with exactly one of latest, all, specific, got 0 keys"},
      {"version_policy: {all: {}, latest: {}}", "got 2 keys"},
      {"version_policy: {newest: {}}", "version_policy: unknown policy \"newest\" (expected one of latest, all"},
      {"version_policy: {latest: {num_versions: 0}}",
       "version_policy.latest.num_versions: expected a positive integer, got 0"},
      {"version_policy: {latest: {num_version: 2}}", "version_policy.latest: unknown key \"num_version\""},
      {"version_policy: {latest: 2}", "version_policy.latest: expected a map, got \"2\""},
      {"version_policy: {all: {x: 1}}", "version_policy.all: takes no options, got key \"x\""},
      {"version_policy: {all: true}", "version_policy.all: expected a map"},
      {"version_policy: {specific: {}}", "version_policy.specific: missing key \"versions\""},
      {"version_policy: {specific: {versions: []}}",
       "version_policy.specific.versions: expected a non-empty list of versions, got an empty list"},
      {"version_policy: {specific: {versions: 3}}",
       "version_policy.specific.versions: expected a non-empty list of versions, got \"3\""},
      {"version_policy: {specific: {versions: [1, 0]}}",
       "version_policy.specific.versions[1]: expected a positive integer, got 0"},
      {"version_policy: {specific: {versions: [2, 2]}}", "version 2 is listed twice"},
      {"version_policy: {specific: {versions: [1], extra: 1}}", "unknown key \"extra\" (expected versions)"},
      {"labels: {stable: 0}", "labels.stable: expected a positive integer, got 0"},
      {"labels: {stable: v1}", "labels.stable: expected a positive integer, got \"v1\""},
      {"labels: {\"bad label\": 1}", "labels: label name \"bad label\" must match [A-Za-z0-9_.-]+"},
      {"labels: {\"\": 1}", "label name \"\" must match"},
      {"labels: {a: 1, a: 2}", "labels: duplicate key \"a\""},
      {"labels: [stable]", "labels: expected a map, got a list"},
      {"labels: {[a]: 1}", "labels: keys must be names, got a list"},
      {"max_batch_size: 1\n---\nmax_batch_size: 2\n", "expected one YAML document, got 2"},
      {"labels: {stable: 1", "config is not valid YAML: line"},
      {"max_batch_size: [1, 2", "config is not valid YAML"},
      {"a: b: c", "config is not valid YAML: line 1"},
  };
  for (const Bad& row : rows) {
    auto r = ParseModelConfig(row.yaml);
    ASSERT_FALSE(r.ok()) << row.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << row.yaml;
    EXPECT_NE(r.status().message().find(row.message_has), std::string::npos)
        << row.yaml << "\n  got:  " << r.status().message() << "\n  want: " << row.message_has;
  }
}

TEST(ModelConfigTest, HostileInputsDoNotCrash) {
  // Deep nesting: yaml-cpp's depth guard throws; we must return a Status, not overflow the stack.
  std::string deep(100000, '[');
  auto r = ParseModelConfig("labels: " + deep);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  // A long unknown key is cut short in the message.
  r = ParseModelConfig(std::string(1000, 'k') + ": 1");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 200u);

  // A thousand groups of 256 instances (a quarter million threads) and a 2 MB config are refused.
  std::string groups = "instances: [";
  for (int i = 0; i < 1000; ++i) groups += std::string(i ? ", " : "") + "{kind: cpu, count: 256}";
  r = ParseModelConfig(groups + "]");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("at most 256 instances per model"), std::string::npos) << r.status().message();
  r = ParseModelConfig("# " + std::string(2 << 20, 'x') + "\nmax_batch_size: 8\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a config.yaml has at most 65536"), std::string::npos) << r.status().message();

  // Control characters are escaped, not echoed raw.
  r = ParseModelConfig("\"a\\x01b\": 1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown key \"a\\x01b\""), std::string::npos) << r.status().message();
}

TEST(ModelConfigTest, SerializeIsReadable) {
  ModelConfig c;
  EXPECT_EQ(SerializeModelConfig(c),
            "version_policy: {latest: {num_versions: 1}}\n"
            "labels: {}\n"
            "max_batch_size: 0\n");
  c.version_policy.kind = VersionPolicy::Kind::kSpecific;
  c.version_policy.versions = {1, 3};
  c.labels = {{"stable", 1}, {"canary", 3}};
  c.max_batch_size = 8;
  EXPECT_EQ(SerializeModelConfig(c),
            "version_policy: {specific: {versions: [1, 3]}}\n"
            "labels: {\"canary\": 3, \"stable\": 1}\n"
            "max_batch_size: 8\n");
  c.version_policy.kind = VersionPolicy::Kind::kAll;
  c.version_policy.versions.clear();
  c.labels.clear();
  EXPECT_EQ(SerializeModelConfig(c), "version_policy: {all: {}}\nlabels: {}\nmax_batch_size: 8\n");
}

TEST(ModelConfigTest, RoundTrips) {
  std::vector<ModelConfig> configs(5);
  configs[1].version_policy.num_versions = 4;
  configs[1].max_batch_size = 32;
  configs[2].version_policy.kind = VersionPolicy::Kind::kAll;
  configs[2].labels = {{"stable", 1}};
  configs[3].version_policy.kind = VersionPolicy::Kind::kSpecific;
  configs[3].version_policy.versions = {2, 5, 9};
  configs[3].labels = {{"null", 2}, {"Null", 5}, {"NULL", 1}, {"-", 9}, {".", 2}, {"true", 5}, {"007", 9}};
  configs[4].labels = {{"a.b-c_d", 1000000000000}};
  configs[4].max_batch_size = INT64_MAX;
  for (const ModelConfig& c : configs) {
    std::string text = SerializeModelConfig(c);
    auto back = ParseModelConfig(text);
    ASSERT_TRUE(back.ok()) << text << " -> " << back.status().ToString();
    EXPECT_EQ(*back, c) << text;
  }
}

}  // namespace
}  // namespace ferry
