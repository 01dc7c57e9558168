#include "registry/version_policy.h"

#include <algorithm>

namespace ferry {

std::vector<int64_t> DesiredVersions(const VersionPolicy& policy, const std::vector<int64_t>& on_disk) {
  std::vector<int64_t> disk = on_disk;
  std::sort(disk.begin(), disk.end());
  disk.erase(std::unique(disk.begin(), disk.end()), disk.end());

  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      return disk;
    case VersionPolicy::Kind::kLatest: {
      if (policy.num_versions <= 0) return {};
      size_t keep = std::min(disk.size(), static_cast<size_t>(policy.num_versions));
      return std::vector<int64_t>(disk.end() - static_cast<std::ptrdiff_t>(keep), disk.end());
    }
    case VersionPolicy::Kind::kSpecific: {
      // The parser keeps `versions` sorted, but a hand-built policy may not be.
      std::vector<int64_t> wanted = policy.versions;
      std::sort(wanted.begin(), wanted.end());
      std::vector<int64_t> out;
      std::set_intersection(disk.begin(), disk.end(), wanted.begin(), wanted.end(), std::back_inserter(out));
      out.erase(std::unique(out.begin(), out.end()), out.end());
      return out;
    }
  }
  return {};
}

}  // namespace ferry
