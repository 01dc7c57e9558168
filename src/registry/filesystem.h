// Filesystem: the seam through which the registry reads the model repository.
//
// The repository scan only lists, tests and reads; tests substitute an in-memory fake
// (tests/registry/fake_filesystem.h) so the scan's rules run without touching disk. Paths are plain strings
// joined with '/'. Implementations must be thread-safe (all methods are const and keep no mutable state).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ferry/status.h"

namespace ferry {

class Filesystem {
 public:
  virtual ~Filesystem() = default;

  // Names (not paths) of the entries of directory `dir`, without "." and "..", in no particular order.
  // NotFound if `dir` does not exist or is not a directory; Internal on other I/O errors.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) const = 0;
  // True if `path` is a directory (following symbolic links). False when it does not exist.
  virtual bool IsDir(const std::string& path) const = 0;
  // True if something exists at `path` (following symbolic links).
  virtual bool Exists(const std::string& path) const = 0;
  // The whole content of regular file `path`. NotFound if it does not exist, ResourceExhausted if it is
  // larger than `max_bytes`, Internal on read errors.
  virtual Result<std::string> ReadFile(const std::string& path, size_t max_bytes) const = 0;
};

// The machine's filesystem, through std::filesystem (without its exceptions).
std::unique_ptr<Filesystem> NewRealFilesystem();

}  // namespace ferry
