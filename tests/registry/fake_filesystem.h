// FakeFilesystem: an in-memory Filesystem for registry tests. Directories are implied by the files and
// directories added below them. Not thread-safe while being filled; const use is.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "registry/filesystem.h"

namespace ferry {

class FakeFilesystem final : public Filesystem {
 public:
  // Adds a directory and all of its parents ("/repo/m/1" adds "/repo", "/repo/m", "/repo/m/1").
  void AddDir(const std::string& path) {
    for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
      dirs_.insert(path.substr(0, pos));
    }
    dirs_.insert(path);
  }
  // Adds a file with `content`, creating its parent directories.
  void AddFile(const std::string& path, std::string content = "") {
    AddDir(path.substr(0, path.rfind('/')));
    files_[path] = std::move(content);
  }
  // Makes ListDir of `dir` fail, as an unreadable directory would.
  void FailList(const std::string& dir) { unlistable_.insert(dir); }

  Result<std::vector<std::string>> ListDir(const std::string& dir) const override {
    if (!dirs_.count(dir)) return NotFound("{} is not a directory", dir);
    if (unlistable_.count(dir)) return Internal("cannot list {}: Permission denied", dir);
    std::set<std::string> names;
    const std::string prefix = dir + "/";
    auto add_child = [&](const std::string& path) {
      if (path.compare(0, prefix.size(), prefix) != 0) return;
      std::string rest = path.substr(prefix.size());
      names.insert(rest.substr(0, rest.find('/')));
    };
    for (const auto& d : dirs_) add_child(d);
    for (const auto& [f, content] : files_) add_child(f);
    // Reverse order, so the scan cannot depend on ListDir being sorted.
    return std::vector<std::string>(names.rbegin(), names.rend());
  }
  bool IsDir(const std::string& path) const override { return dirs_.count(path) > 0; }
  bool Exists(const std::string& path) const override { return dirs_.count(path) || files_.count(path); }
  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) const override {
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound("{} is not a regular file", path);
    if (it->second.size() > max_bytes) return ResourceExhausted("{} is larger than {} bytes", path, max_bytes);
    return it->second;
  }

 private:
  std::set<std::string> dirs_;
  std::map<std::string, std::string> files_;
  std::set<std::string> unlistable_;
};

}  // namespace ferry
