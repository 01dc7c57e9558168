// VersionPolicy: which of a model's on-disk versions should be served (TF Serving's ServableVersionPolicy).
//
// The policy is pure data and DesiredVersions a pure function over what the repository scan found, so the
// manager's reconciliation ("load these, unload those") is decided in one place that is tested as a table.
// Thread-compatible plain data; DesiredVersions is thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace ferry {

struct VersionPolicy {
  enum class Kind {
    kLatest,    // the `num_versions` highest versions on disk
    kAll,       // every version on disk
    kSpecific,  // the listed `versions` that are on disk
  };
  Kind kind = Kind::kLatest;
  // kLatest only; >= 1 in a parsed config.
  int64_t num_versions = 1;
  // kSpecific only; ascending, distinct, each >= 1, non-empty in a parsed config.
  std::vector<int64_t> versions;

  bool operator==(const VersionPolicy&) const = default;
};

// The versions of `on_disk` that `policy` selects, ascending and distinct. `on_disk` may be in any order and
// contain duplicates (they count once). A version the policy names but the disk lacks is simply absent: the
// caller reports it if it cares. num_versions <= 0 selects nothing.
std::vector<int64_t> DesiredVersions(const VersionPolicy& policy, const std::vector<int64_t>& on_disk);

}  // namespace ferry
