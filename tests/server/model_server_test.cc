// ModelServer's storage limits (version count, repository quota) and admission (instances and memory per version
// and per server), on a real repository in a temporary directory. The loader is a fake: a model.onnx holding the
// decimal number W (padded with spaces) loads as x [batch, W] float -> Relu -> y, whose plan for a batch of B rows
// is one output of B * W * 4 bytes plus the 64 bytes of alignment slack an instance reserves. Every expected
// number below is that arithmetic.
#include "server/model_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "common/tiny_graph.h"
#include "registry/repository.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

Result<std::shared_ptr<const Model>> WidthModel(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  int64_t width = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), width);
  if (ec != std::errc() || width < 1) return InvalidArgument("not a width: \"{}\"", s);
  testing::TinyGraphSpec spec;
  spec.x_shape = {Dim{-1, "batch"}, Dim{width, ""}};
  spec.y_has_shape = true;
  return testing::TinyModel(spec);
}

std::string Padded(const std::string& width, size_t bytes) { return width + std::string(bytes - width.size(), ' '); }

class ModelServerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_model_server_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    repo_ = tmpl;
    options_.repository = repo_;
    options_.inference_threads = 1;
    options_.loader = [](const std::string&, int64_t, const std::string& path) { return WidthModel(path); };
    options_.admission.max_server_memory_bytes = UINT64_MAX;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    std::error_code ec;
    fs::remove_all(repo_, ec);
  }

  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories(fs::path(repo_ + "/" + rel).parent_path());
    std::ofstream(repo_ + "/" + rel) << text;
  }
  void Start() {
    auto created = ModelServer::Create(options_);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    server_ = std::move(*created);
    ASSERT_TRUE(server_->Start().ok());
  }
  // Names in a directory of the repository ("" for its top).
  std::set<std::string> Names(const std::string& rel = "") const {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(repo_ + "/" + rel)) names.insert(e.path().filename().string());
    return names;
  }
  VersionStatus Version(const std::string& model, int64_t version) const {
    Result<ModelStatus> status = server_->manager().GetModelStatus(model);
    EXPECT_TRUE(status.ok()) << model;
    if (status.ok()) {
      for (const VersionStatus& v : status->versions) {
        if (v.version == version) return v;
      }
    }
    ADD_FAILURE() << model << "/" << version << " has no status";
    return {};
  }

  std::string repo_;
  ModelServerOptions options_;
  std::unique_ptr<ModelServer> server_;
};

TEST_F(ModelServerLimitsTest, VersionCountIsResourceExhaustedAndLeavesNothing) {
  options_.max_versions_per_model = 2;
  Start();
  ASSERT_TRUE(server_->PutVersion("m", std::nullopt, "16").ok());
  ASSERT_TRUE(server_->PutVersion("m", std::nullopt, "16").ok());
  for (std::optional<int64_t> version : {std::optional<int64_t>(), std::optional<int64_t>(7)}) {
    Result<UploadResult> third = server_->PutVersion("m", version, "16");
    ASSERT_FALSE(third.ok());
    EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(third.status().message(),
              "model \"m\" has 2 versions, the most max_versions_per_model = 2 allows: delete one first");
  }
  EXPECT_EQ(Names(), (std::set<std::string>{"m"}));
  EXPECT_EQ(Names("m"), (std::set<std::string>{"1", "2"}));
  // Another model has its own count; a deleted version frees a place.
  EXPECT_TRUE(server_->PutVersion("n", std::nullopt, "16").ok());
  ASSERT_TRUE(server_->DeleteVersion("m", 1).ok());
  Result<UploadResult> again = server_->PutVersion("m", std::nullopt, "16");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, 3);
}

TEST_F(ModelServerLimitsTest, RepositoryQuotaIsResourceExhaustedAndLeavesNothing) {
  options_.max_repository_bytes = 100;
  Start();
  ASSERT_TRUE(server_->PutVersion("m", std::nullopt, Padded("16", 60)).ok());
  Result<UploadResult> over = server_->PutVersion("m", std::nullopt, Padded("16", 41));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().message(),
            "max_repository_bytes = 100: the upload needs more than the 40 bytes the repository quota leaves, at "
            "member \"model.onnx\"");
  EXPECT_EQ(Names(), (std::set<std::string>{"m"}));  // no staging directory left
  EXPECT_EQ(Names("m"), (std::set<std::string>{"1"}));
  // Exactly what is left fits; then nothing does.
  ASSERT_TRUE(server_->PutVersion("n", std::nullopt, Padded("16", 40)).ok());
  Result<UploadResult> full = server_->PutVersion("o", std::nullopt, "1");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().message(), "the repository holds 100 bytes, its quota max_repository_bytes = 100 is used up");
  EXPECT_EQ(Names(), (std::set<std::string>{"m", "n"}));
}

TEST_F(ModelServerLimitsTest, VersionOverItsMemoryLimitFailsAloneAtLoad) {
  options_.admission.max_model_memory_bytes = 200000;
  Write("big/config.yaml", "max_batch_size: 64\n");
  Write("big/1/model.onnx", "1024");
  Write("small/1/model.onnx", "16");
  Start();
  const VersionStatus big = Version("big", 1);
  EXPECT_EQ(big.state, VersionState::kFailed);
  // 64 rows x 1024 floats x 4 bytes + 64.
  EXPECT_EQ(big.error,
            "ResourceExhausted: big/1 needs 262208 bytes (weights 0 + 1 instances x 262208 planned for batch 64), over "
            "max_model_memory_bytes = 200000");
  EXPECT_EQ(Version("small", 1).state, VersionState::kAvailable);
  EXPECT_TRUE(server_->manager().Acquire("small").ok());
}

TEST_F(ModelServerLimitsTest, ServerMemoryCountsEveryLoadedVersionAndFreesWithThem) {
  options_.admission.max_server_memory_bytes = 1000;  // each version below takes 100 x 4 + 64 = 464
  Write("a/1/model.onnx", "100");
  Write("b/1/model.onnx", "100");
  Write("c/1/model.onnx", "100");
  Start();
  int failed = 0;
  std::string failed_model;
  for (const char* m : {"a", "b", "c"}) {
    const VersionStatus v = Version(m, 1);
    if (v.state != VersionState::kFailed) continue;
    ++failed;
    failed_model = m;
    EXPECT_EQ(v.error,
              fmt::format("ResourceExhausted: {}/1 needs 464 bytes and the other loaded versions hold 928: over "
                          "max_server_memory_bytes = 1000",
                          m));
  }
  ASSERT_EQ(failed, 1);
  // Deleting a loaded version frees its memory: a new version of the failed model then loads.
  ASSERT_TRUE(server_->DeleteVersion(failed_model == "a" ? "b" : "a", 1).ok());
  // The version's memory is released when its last handle drops (END); no request holds one here.
  const std::string deleted = failed_model == "a" ? "b" : "a";
  auto unloading = [&] {
    Result<ModelStatus> st = server_->manager().GetModelStatus(deleted);
    return st.ok() && !st->versions.empty() && st->versions.back().state != VersionState::kEnd;
  };
  for (int i = 0; i < 1000 && unloading(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(unloading());
  Result<UploadResult> retry = server_->PutVersion(failed_model, 2, "100");
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_EQ(retry->state, VersionState::kAvailable) << retry->error;
}

TEST_F(ModelServerLimitsTest, InstancesAcrossModelsAreCapped) {
  options_.admission.max_total_instances = 3;
  Write("a/config.yaml", "instances: [{kind: cpu, count: 2}]\n");
  Write("a/1/model.onnx", "16");
  Write("b/config.yaml", "instances: [{kind: cpu, count: 2}]\n");
  Write("b/1/model.onnx", "16");
  Start();
  const VersionStatus a = Version("a", 1), b = Version("b", 1);
  ASSERT_NE(a.state == VersionState::kFailed, b.state == VersionState::kFailed);
  const std::string failed = a.state == VersionState::kFailed ? "a" : "b";
  EXPECT_EQ((failed == "a" ? a : b).error,
            "ResourceExhausted: " + failed +
                "/1 would run 4 instances in all, over max_total_instances = 3 (the other loaded versions run 2, "
                "this asks for 2)");
}

TEST_F(ModelServerLimitsTest, ConfigIsDryRunBeforeItIsWritten) {
  options_.admission.max_total_instances = 3;
  options_.admission.max_model_memory_bytes = 200000;
  Write("m/1/model.onnx", "1024");
  Write("n/1/model.onnx", "16");
  Start();
  ASSERT_EQ(Version("m", 1).state, VersionState::kAvailable);
  const std::string config_path = repo_ + "/m/config.yaml";

  Status s = server_->PutConfig("m", "instances: [{kind: cpu, count: 3}]\n");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "config.yaml refused by a dry run: m/1 would run 4 instances in all, over max_total_instances = 3 (the "
            "other loaded versions run 1, this asks for 3)");
  EXPECT_FALSE(fs::exists(config_path));

  s = server_->PutConfig("m", "instances: [{kind: cpu, count: 4}]\n");
  EXPECT_EQ(s.message(), "config.yaml refused by a dry run: 4 instances, over max_total_instances = 3");
  EXPECT_FALSE(fs::exists(config_path));

  s = server_->PutConfig("m", "max_batch_size: 64\n");
  EXPECT_EQ(s.message(),
            "config.yaml refused by a dry run: m/1 needs 262208 bytes (weights 0 + 1 instances x 262208 planned for "
            "batch 64), over max_model_memory_bytes = 200000");
  EXPECT_FALSE(fs::exists(config_path));

  // 16 x 1024 x 4 + 64 = 65600 per instance, 131200 for two, and 2 + 1 instances: fits, is written and applied.
  const std::string good = "max_batch_size: 16\ninstances: [{kind: cpu, count: 2}]\n";
  ASSERT_TRUE(server_->PutConfig("m", good).ok());
  EXPECT_EQ(*server_->GetConfigText("m"), good);
  Result<VersionHandle> handle = server_->manager().Acquire("m");
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ((*handle)->scheduler->instance_count(), 2);
  EXPECT_EQ((*handle)->scheduler->settings().batching.max_batch_size, 16);
  // The ledger now holds m's new footprint: n cannot take a second instance.
  s = server_->PutConfig("n", "instances: [{kind: cpu, count: 2}]\n");
  EXPECT_EQ(s.message(),
            "config.yaml refused by a dry run: n/1 would run 4 instances in all, over max_total_instances = 3 (the "
            "other loaded versions run 2, this asks for 2)");
}

TEST_F(ModelServerLimitsTest, HandEditedConfigFailsThatModelOnly) {
  options_.admission.max_total_instances = 3;
  options_.admission.max_model_memory_bytes = 200000;
  Write("m/config.yaml", "instances: [{kind: cpu, count: 4}]\n");
  Write("m/1/model.onnx", "16");
  Write("a/1/model.onnx", "1024");  // loads first (models load by name)
  Start();
  const VersionStatus m = Version("m", 1);
  EXPECT_EQ(m.state, VersionState::kFailed);
  EXPECT_EQ(m.error,
            "ResourceExhausted: m/1 would run 5 instances in all, over max_total_instances = 3 (the other loaded "
            "versions run 1, this "
            "asks for 4)");
  ASSERT_EQ(Version("a", 1).state, VersionState::kAvailable);

  // Edited under a loaded version (the update path, which PutConfig's dry run does not guard): refused, a keeps
  // serving with its old settings, and the model reports why.
  Write("a/config.yaml", "max_batch_size: 64\n");
  ASSERT_TRUE(server_->Rescan().ok());
  EXPECT_EQ(Version("a", 1).state, VersionState::kAvailable);
  Result<ModelStatus> a = server_->manager().GetModelStatus("a");
  ASSERT_TRUE(a.ok());
  EXPECT_NE(a->error.find("a/1 needs 262208 bytes (weights 0 + 1 instances x 262208 planned for batch 64), over "
                          "max_model_memory_bytes = 200000"),
            std::string::npos)
      << a->error;
  Result<VersionHandle> handle = server_->manager().Acquire("a");
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ((*handle)->scheduler->settings().batching.max_batch_size, 0);
}

TEST_F(ModelServerLimitsTest, UploadOverTheMemoryLimitOfItsConfigIsRefused) {
  options_.admission.max_model_memory_bytes = 200000;
  Write("m/config.yaml", "max_batch_size: 64\n");
  Start();
  Result<UploadResult> up = server_->PutVersion("m", std::nullopt, "1024");
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(up.status().message(),
            "the model cannot be served: m/1 needs 262208 bytes (weights 0 + 1 instances x 262208 planned for batch "
            "64), over max_model_memory_bytes = 200000");
  EXPECT_EQ(Names("m"), (std::set<std::string>{"config.yaml"}));
  EXPECT_EQ(Names(), (std::set<std::string>{"m"}));
  EXPECT_TRUE(server_->PutVersion("m", std::nullopt, "512").ok());  // 64 x 512 x 4 + 64 = 131136
}

}  // namespace
}  // namespace ferry
