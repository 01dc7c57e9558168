// DesiredVersions as a table: each row's expected versions are worked out by hand from the policy's meaning.
#include "registry/version_policy.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

VersionPolicy Latest(int64_t n) {
  VersionPolicy p;
  p.kind = VersionPolicy::Kind::kLatest;
  p.num_versions = n;
  return p;
}
VersionPolicy All() {
  VersionPolicy p;
  p.kind = VersionPolicy::Kind::kAll;
  return p;
}
VersionPolicy Specific(std::vector<int64_t> v) {
  VersionPolicy p;
  p.kind = VersionPolicy::Kind::kSpecific;
  p.versions = std::move(v);
  return p;
}

struct Row {
  const char* what;
  VersionPolicy policy;
  std::vector<int64_t> on_disk;
  std::vector<int64_t> want;
};

TEST(VersionPolicyTest, Table) {
  const Row rows[] = {
      {"default policy is latest 1", VersionPolicy(), {1, 2, 3}, {3}},
      {"latest 1 of one", Latest(1), {7}, {7}},
      {"latest 2 of unsorted", Latest(2), {3, 10, 1, 2}, {3, 10}},
      {"latest more than on disk", Latest(5), {2, 4}, {2, 4}},
      {"latest of nothing", Latest(1), {}, {}},
      {"latest counts duplicates once", Latest(2), {5, 5, 4, 3}, {4, 5}},
      {"latest 0 selects nothing", Latest(0), {1, 2}, {}},
      {"latest with large numbers", Latest(1), {9, 1000000000000}, {1000000000000}},
      {"all", All(), {3, 1, 2}, {1, 2, 3}},
      {"all of nothing", All(), {}, {}},
      {"all dedups", All(), {2, 2, 1}, {1, 2}},
      {"specific intersection", Specific({1, 3}), {1, 2, 3, 4}, {1, 3}},
      {"specific missing on disk", Specific({1, 3}), {2, 3}, {3}},
      {"specific none on disk", Specific({5}), {1, 2}, {}},
      {"specific unsorted policy", Specific({4, 2}), {1, 2, 3, 4}, {2, 4}},
      {"specific with empty disk", Specific({1}), {}, {}},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(DesiredVersions(row.policy, row.on_disk), row.want) << row.what;
  }
}

}  // namespace
}  // namespace ferry
