// The repository scan's rules, on an in-memory filesystem (and once on a real temporary directory).
#include "registry/repository.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "registry/fake_filesystem.h"

namespace ferry {
namespace {

TEST(IsValidModelNameTest, Rules) {
  for (const char* ok : {"m", "M", "0", "resnet50", "my_model.v2-final", "a..b", "a-"}) {
    EXPECT_TRUE(IsValidModelName(ok)) << ok;
  }
  for (const char* bad : {"", ".hidden", "_x", "-x", "a b", "a/b", "a\\b", "m!", "caf\xc3\xa9", ".."}) {
    EXPECT_FALSE(IsValidModelName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidModelName(std::string(128, 'a')));
  EXPECT_FALSE(IsValidModelName(std::string(129, 'a')));
}

TEST(ParseVersionDirNameTest, Rules) {
  EXPECT_EQ(ParseVersionDirName("1"), 1);
  EXPECT_EQ(ParseVersionDirName("42"), 42);
  EXPECT_EQ(ParseVersionDirName("9223372036854775807"), INT64_MAX);
  for (const char* bad :
       {"", "0", "01", "+1", "-1", "1a", "v1", " 1", "1 ", "1.0", "9223372036854775808", "99999999999999999999"}) {
    EXPECT_EQ(ParseVersionDirName(bad), std::nullopt) << bad;
  }
}

TEST(RepositoryTest, MissingRootIsNotFound) {
  FakeFilesystem fs;
  auto r = ScanRepository(fs, "/repo");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("model repository"), std::string::npos);
}

TEST(RepositoryTest, EmptyRepository) {
  FakeFilesystem fs;
  fs.AddDir("/repo");
  auto r = ScanRepository(fs, "/repo");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->models.empty());
  EXPECT_TRUE(r->problems.empty());
}

TEST(RepositoryTest, ScansModelsVersionsAndConfigs) {
  FakeFilesystem fs;
  fs.AddFile("/repo/README.md", "not a model");
  // mnist: versions 1, 2, 10 count; the rest do not.
  fs.AddFile("/repo/mnist/1/model.onnx");
  fs.AddFile("/repo/mnist/10/model.onnx");
  fs.AddFile("/repo/mnist/10/weights.bin");
  fs.AddFile("/repo/mnist/2/model.onnx");
  fs.AddFile("/repo/mnist/3/notes.txt");        // no model.onnx: a problem, not a version
  fs.AddDir("/repo/mnist/4/model.onnx");        // a directory named model.onnx is no model
  fs.AddFile("/repo/mnist/05/model.onnx");      // leading zero: ignored
  fs.AddFile("/repo/mnist/0/model.onnx");       // zero: ignored
  fs.AddFile("/repo/mnist/+6/model.onnx");      // sign: ignored
  fs.AddFile("/repo/mnist/latest/model.onnx");  // not a number: ignored
  fs.AddFile("/repo/mnist/.7.tmp/model.onnx");  // upload in progress: ignored
  fs.AddFile("/repo/mnist/8", "a file, not a version directory");
  fs.AddFile("/repo/mnist/config.yaml", "version_policy: {all: {}}\nlabels: {stable: 2}\nmax_batch_size: 16\n");
  // resnet: no config, one version.
  fs.AddFile("/repo/resnet-50.v2/3/model.onnx");
  // Not models.
  fs.AddFile("/repo/.staging/1/model.onnx");
  fs.AddFile("/repo/bad name/1/model.onnx");
  fs.AddFile("/repo/_private/1/model.onnx");

  auto r = ScanRepository(fs, "/repo");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 2u);

  const ModelEntry& mnist = r->models.at("mnist");
  EXPECT_EQ(mnist.name, "mnist");
  EXPECT_EQ(mnist.dir, "/repo/mnist");
  EXPECT_EQ(mnist.versions, (std::vector<int64_t>{1, 2, 10}));
  EXPECT_TRUE(mnist.valid);
  EXPECT_TRUE(mnist.has_config_file);
  EXPECT_EQ(mnist.config.version_policy.kind, VersionPolicy::Kind::kAll);
  EXPECT_EQ(mnist.config.labels, (std::map<std::string, int64_t>{{"stable", 2}}));
  EXPECT_EQ(mnist.config.max_batch_size, 16);
  EXPECT_EQ(mnist.VersionDir(10), "/repo/mnist/10");
  EXPECT_EQ(mnist.ModelPath(10), "/repo/mnist/10/model.onnx");

  const ModelEntry& resnet = r->models.at("resnet-50.v2");
  EXPECT_EQ(resnet.versions, (std::vector<int64_t>{3}));
  EXPECT_TRUE(resnet.valid);
  EXPECT_FALSE(resnet.has_config_file);
  EXPECT_EQ(resnet.config, ModelConfig());

  EXPECT_EQ(r->problems, (std::vector<std::string>{
                             "directory \"_private\" skipped: model names must match "
                             "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}",
                             "directory \"bad name\" skipped: model names must match "
                             "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}",
                             "model \"mnist\": version 3 has no model.onnx, ignored",
                             "model \"mnist\": version 4 has no model.onnx, ignored",
                         }));
}

TEST(RepositoryTest, BadConfigMarksTheModelInvalid) {
  FakeFilesystem fs;
  fs.AddFile("/repo/a/1/model.onnx");
  fs.AddFile("/repo/a/config.yaml", "max_batch_size: 8\nlables: {stable: 1}\n");
  fs.AddFile("/repo/b/1/model.onnx");
  fs.AddFile("/repo/b/config.yaml", "labels: {stable: 1");
  fs.AddFile("/repo/c/2/model.onnx");

  auto r = ScanRepository(fs, "/repo");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 3u);

  const ModelEntry& a = r->models.at("a");
  EXPECT_FALSE(a.valid);
  EXPECT_TRUE(a.has_config_file);
  EXPECT_EQ(a.error,
            "config.yaml: unknown key \"lables\" (known keys: version_policy, labels, max_batch_size, "
            "dynamic_batching, max_queue_size, default_timeout_us, instances)");
  EXPECT_EQ(a.versions, (std::vector<int64_t>{1}));  // still listed, for status pages
  EXPECT_EQ(a.config, ModelConfig());

  const ModelEntry& b = r->models.at("b");
  EXPECT_FALSE(b.valid);
  EXPECT_EQ(b.error.rfind("config.yaml: config is not valid YAML: line ", 0), 0u) << b.error;

  EXPECT_TRUE(r->models.at("c").valid);  // one bad model does not spoil the others

  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_EQ(r->problems[0], "model \"a\": " + a.error);
  EXPECT_EQ(r->problems[1], "model \"b\": " + b.error);
}

TEST(RepositoryTest, OversizedOrUnreadableIsAProblem) {
  FakeFilesystem fs;
  fs.AddFile("/repo/big/1/model.onnx");
  fs.AddFile("/repo/big/config.yaml", std::string(100, '#'));
  fs.AddDir("/repo/dirconfig/config.yaml");
  fs.AddDir("/repo/locked");
  fs.FailList("/repo/locked");
  fs.AddDir("/repo/empty");

  ScanOptions options;
  options.max_config_bytes = 99;
  auto r = ScanRepository(fs, "/repo", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 4u);
  EXPECT_EQ(r->models.at("big").error, "config.yaml: /repo/big/config.yaml is larger than 99 bytes");
  EXPECT_EQ(r->models.at("dirconfig").error, "config.yaml: /repo/dirconfig/config.yaml is not a regular file");
  EXPECT_EQ(r->models.at("locked").error, "cannot list /repo/locked: Permission denied");
  EXPECT_TRUE(r->models.at("empty").valid);  // a model with no versions yet is fine
  EXPECT_TRUE(r->models.at("empty").versions.empty());
  EXPECT_EQ(r->problems.size(), 3u);
}

// The same rules through the real filesystem, on a fresh temporary directory.
TEST(RepositoryTest, RealDirectory) {
  namespace stdfs = std::filesystem;
  std::string tmpl = (stdfs::temp_directory_path() / "ferry_registry_test_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const stdfs::path root = tmpl;
  auto write = [&](const stdfs::path& rel, const std::string& content) {
    stdfs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel, std::ios::binary) << content;
  };
  write("digits/1/model.onnx", "x");
  write("digits/3/model.onnx", "x");
  write("digits/2/readme.txt", "no model here");
  write("digits/.4/model.onnx", "x");
  write("digits/config.yaml", "version_policy: {latest: {num_versions: 2}}\nlabels: {stable: 1, canary: 3}\n");
  write("broken/1/model.onnx", "x");
  write("broken/config.yaml", "max_batch_size: lots\n");
  write("bad!name/1/model.onnx", "x");
  write("notes.txt", "ignored");

  auto fs = NewRealFilesystem();
  auto r = ScanRepository(*fs, root.string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->models.size(), 2u);

  const ModelEntry& digits = r->models.at("digits");
  EXPECT_TRUE(digits.valid) << digits.error;
  EXPECT_EQ(digits.versions, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(digits.config.version_policy.num_versions, 2);
  EXPECT_EQ(digits.config.labels, (std::map<std::string, int64_t>{{"canary", 3}, {"stable", 1}}));
  EXPECT_EQ(digits.ModelPath(3), root.string() + "/digits/3/model.onnx");

  const ModelEntry& broken = r->models.at("broken");
  EXPECT_FALSE(broken.valid);
  EXPECT_EQ(broken.error, "config.yaml: max_batch_size: expected a non-negative integer, got \"lots\"");

  EXPECT_EQ(r->problems, (std::vector<std::string>{
                             "directory \"bad!name\" skipped: model names must match "
                             "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}",
                             "model \"broken\": " + broken.error,
                             "model \"digits\": version 2 has no model.onnx, ignored",
                         }));

  // ReadFile's limit and a missing root, on the real thing.
  auto big = fs->ReadFile((root / "digits/config.yaml").string(), 10);
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  auto missing = ScanRepository(*fs, (root / "nope").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  std::error_code ec;
  stdfs::remove_all(root, ec);
}

}  // namespace
}  // namespace ferry
