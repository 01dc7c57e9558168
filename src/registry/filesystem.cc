#include "registry/filesystem.h"

#include <filesystem>
#include <fstream>
#include <system_error>

namespace ferry {
namespace {

namespace fs = std::filesystem;

class RealFilesystem final : public Filesystem {
 public:
  Result<std::vector<std::string>> ListDir(const std::string& dir) const override {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return NotFound("{} is not a directory", dir);
    std::vector<std::string> names;
    fs::directory_iterator it(dir, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Internal("cannot list {}: {}", dir, ec.message());
    return names;
  }

  bool IsDir(const std::string& path) const override {
    std::error_code ec;
    return fs::is_directory(path, ec);
  }

  bool Exists(const std::string& path) const override {
    std::error_code ec;
    return fs::exists(path, ec);
  }

  Result<std::string> ReadFile(const std::string& path, size_t max_bytes) const override {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return NotFound("{} is not a regular file", path);
    std::ifstream in(path, std::ios::binary);
    if (!in) return Internal("cannot open {}", path);
    // Read at most one byte past the limit rather than trusting the size, which may change while we read.
    std::string data;
    char buffer[1 << 14];
    while (in) {
      in.read(buffer, sizeof(buffer));
      data.append(buffer, static_cast<size_t>(in.gcount()));
      if (data.size() > max_bytes) return ResourceExhausted("{} is larger than {} bytes", path, max_bytes);
    }
    if (in.bad()) return Internal("cannot read {}", path);
    return data;
  }
};

}  // namespace

std::unique_ptr<Filesystem> NewRealFilesystem() { return std::make_unique<RealFilesystem>(); }

}  // namespace ferry
