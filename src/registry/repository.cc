#include "registry/repository.h"

#include <algorithm>
#include <limits>

namespace ferry {
namespace {

bool IsAlnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A directory name echoed in a problem: control bytes masked and cut short, so names cannot forge log lines.
std::string Printable(std::string_view name) {
  constexpr size_t kMaxShown = 64;
  std::string out;
  for (size_t i = 0; i < name.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    out += (c < 0x20 || c == 0x7f || c == '"') ? '?' : static_cast<char>(c);
  }
  if (name.size() > kMaxShown) out += "...";
  return out;
}

// Fills versions, config and validity of one model directory.
void ScanModel(const Filesystem& fs, const ScanOptions& options, ModelEntry& model,
               std::vector<std::string>& problems) {
  auto invalidate = [&](std::string why) {
    model.valid = false;
    model.error = why;
    problems.push_back(fmt::format("model \"{}\": {}", model.name, why));
  };

  auto entries = fs.ListDir(model.dir);
  if (!entries.ok()) {
    invalidate(entries.status().message());
    return;
  }
  std::vector<std::string> names = std::move(entries).value();
  std::sort(names.begin(), names.end());  // stable problem order across filesystems

  for (const std::string& name : names) {
    std::optional<int64_t> version = ParseVersionDirName(name);
    if (!version) continue;
    const std::string version_dir = model.VersionDir(*version);
    if (!fs.IsDir(version_dir)) continue;
    const std::string model_path = model.ModelPath(*version);
    if (!fs.Exists(model_path) || fs.IsDir(model_path)) {
      problems.push_back(
          fmt::format("model \"{}\": version {} has no {}, ignored", model.name, *version, kModelFileName));
      continue;
    }
    model.versions.push_back(*version);
  }
  std::sort(model.versions.begin(), model.versions.end());

  const std::string config_path = model.dir + "/" + kModelConfigFileName;
  if (!fs.Exists(config_path)) return;
  model.has_config_file = true;
  auto text = fs.ReadFile(config_path, options.max_config_bytes);
  if (!text.ok()) {
    invalidate(fmt::format("{}: {}", kModelConfigFileName, text.status().message()));
    return;
  }
  auto config = ParseModelConfig(*text);
  if (!config.ok()) {
    invalidate(fmt::format("{}: {}", kModelConfigFileName, config.status().message()));
    return;
  }
  model.config = std::move(config).value();
}

}  // namespace

bool IsValidModelName(std::string_view name) {
  if (name.empty() || name.size() > 128 || !IsAlnum(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [](char c) { return IsAlnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::optional<int64_t> ParseVersionDirName(std::string_view name) {
  if (name.empty() || name[0] < '1' || name[0] > '9') return std::nullopt;
  int64_t value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    int digit = c - '0';
    if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string ModelEntry::VersionDir(int64_t version) const { return fmt::format("{}/{}", dir, version); }

std::string ModelEntry::ModelPath(int64_t version) const {
  return fmt::format("{}/{}/{}", dir, version, kModelFileName);
}

Result<RepositorySnapshot> ScanRepository(const Filesystem& fs, const std::string& root, const ScanOptions& options) {
  auto entries = fs.ListDir(root);
  if (!entries.ok()) return entries.status().WithContext("model repository");
  std::vector<std::string> names = std::move(entries).value();
  std::sort(names.begin(), names.end());

  RepositorySnapshot snapshot;
  for (const std::string& name : names) {
    if (name.empty() || name[0] == '.') continue;
    const std::string dir = root + "/" + name;
    if (!fs.IsDir(dir)) continue;
    if (!IsValidModelName(name)) {
      snapshot.problems.push_back(fmt::format(
          "directory \"{}\" skipped: model names must match [A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}", Printable(name)));
      continue;
    }
    ModelEntry model;
    model.name = name;
    model.dir = dir;
    ScanModel(fs, options, model, snapshot.problems);
    snapshot.models.emplace(name, std::move(model));
  }
  return snapshot;
}

}  // namespace ferry
