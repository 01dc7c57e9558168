// Repository scan: what a SavedModel-style model repository holds right now.
//
//   <repo>/<model>/config.yaml            optional, see model_config.h
//   <repo>/<model>/<version>/model.onnx   a version, plus its external-data files beside it
//
// The scan is a snapshot, not a manager: it loads nothing and decides nothing. The manager compares
// successive snapshots, applies each model's version policy (DesiredVersions) and loads/unloads to match.
// Rules:
//  - Entries whose names start with '.' are ignored everywhere: uploads and copies are written under a dot
//    name and published by an atomic rename, so a half-written version is never seen.
//  - A model is a directory whose name matches [A-Za-z0-9][A-Za-z0-9_.-]{0,127}; other directories are
//    skipped with a problem; plain files at the top level (a README) are ignored.
//  - A version is a directory named by a positive decimal integer without sign or leading zeros ("1", "42",
//    not "0", "01", "+1", "v1"); other names are ignored. It counts only once it holds model.onnx; a version
//    directory without one is reported as a problem.
//  - A config.yaml that cannot be read or parsed marks the model invalid with that message (the manager
//    should keep serving what it already serves); the model then carries the default config.
// Thread-safe if the Filesystem is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/status.h"
#include "registry/filesystem.h"
#include "registry/model_config.h"

namespace ferry {

inline constexpr const char* kModelFileName = "model.onnx";
inline constexpr const char* kModelConfigFileName = "config.yaml";

// True when `name` matches [A-Za-z0-9][A-Za-z0-9_.-]{0,127}.
bool IsValidModelName(std::string_view name);

// The version a directory name denotes: a positive decimal integer without sign or leading zeros that fits
// in int64_t. nullopt for any other name.
std::optional<int64_t> ParseVersionDirName(std::string_view name);

struct ModelEntry {
  std::string name;
  std::string dir;                // "<repo>/<name>"
  std::vector<int64_t> versions;  // complete versions on disk, ascending
  bool has_config_file = false;   // config.yaml exists (whether or not it parsed)
  ModelConfig config;             // parsed config.yaml, or the default
  bool valid = true;              // false: `error` says why; do not (re)load this model's versions
  std::string error;

  // "<dir>/<version>" and "<dir>/<version>/model.onnx".
  std::string VersionDir(int64_t version) const;
  std::string ModelPath(int64_t version) const;
};

struct RepositorySnapshot {
  std::map<std::string, ModelEntry> models;  // by name
  // Human-readable notes on what was skipped or refused ("model \"x\": ..."), in scan order by name.
  std::vector<std::string> problems;
};

struct ScanOptions {
  // config.yaml files larger than this (bytes) are refused, so a stray huge file cannot stall a poll.
  size_t max_config_bytes = 1 << 20;
};

// Scans the repository at `root` through `fs`. Fails (NotFound) only if `root` cannot be listed; everything
// wrong below it lands in the snapshot's problems. `root` is used as given (no trailing '/').
Result<RepositorySnapshot> ScanRepository(const Filesystem& fs, const std::string& root,
                                          const ScanOptions& options = {});

}  // namespace ferry
