// ModelManager: reconciliation against hand-built snapshots through a fake loader that builds tiny models in
// memory, fails, or blocks until released. Expected states and event orders are written out by hand.
#include "server/model_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "common/tiny_graph.h"

namespace ferry {
namespace {

// x float[1] -> Relu -> y; graph_name "<model>/<version>" tells tests which version a handle holds.
std::shared_ptr<const Model> TinyModel(const std::string& model, int64_t version) {
  testing::TinyGraphSpec spec;
  spec.graph_name = model + "/" + std::to_string(version);
  return testing::TinyModel(spec);
}

// Records every load; can fail a version or hold its load until released. Thread-safe.
class FakeLoader {
 public:
  VersionLoader AsLoader() {
    return [this](const std::string& model, int64_t version, const std::string& path) {
      return Load(model, version, path);
    };
  }
  void Fail(const std::string& key, Status status) {
    std::lock_guard<std::mutex> l(mu_);
    failures_.emplace(key, std::move(status));
  }
  void Block(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    blocked_.insert(key);
  }
  void WaitUntilLoading(const std::string& key) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return loading_.count(key) > 0; });
  }
  void Release(const std::string& key) {
    std::lock_guard<std::mutex> l(mu_);
    blocked_.erase(key);
    cv_.notify_all();
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

 private:
  Result<std::shared_ptr<const Model>> Load(const std::string& model, int64_t version, const std::string& path) {
    std::string key = model + "/" + std::to_string(version);
    {
      std::unique_lock<std::mutex> l(mu_);
      calls_.push_back(key + " " + path);
      loading_.insert(key);
      cv_.notify_all();
      cv_.wait(l, [&] { return blocked_.count(key) == 0; });
      loading_.erase(key);
      auto it = failures_.find(key);
      if (it != failures_.end()) return it->second;
    }
    return TinyModel(model, version);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  std::map<std::string, Status> failures_;
  std::set<std::string> blocked_, loading_;
};

ModelEntry Entry(const std::string& name, std::vector<int64_t> versions, VersionPolicy policy = {},
                 std::map<std::string, int64_t> labels = {}) {
  ModelEntry e;
  e.name = name;
  e.dir = "/repo/" + name;
  e.versions = std::move(versions);
  e.config.version_policy = std::move(policy);
  e.config.labels = std::move(labels);
  return e;
}

RepositorySnapshot Snap(std::vector<ModelEntry> entries) {
  RepositorySnapshot s;
  for (auto& e : entries) s.models[e.name] = e;
  return s;
}

VersionPolicy All() { return VersionPolicy{VersionPolicy::Kind::kAll, 1, {}}; }
VersionPolicy Specific(std::vector<int64_t> v) { return VersionPolicy{VersionPolicy::Kind::kSpecific, 1, v}; }

// "1:AVAILABLE 2:FAILED" for one model; "" when unknown.
std::string States(const ModelManager& m, const std::string& model) {
  auto s = m.GetModelStatus(model);
  if (!s.ok()) return "";
  std::string out;
  for (const auto& v : s->versions) {
    out += (out.empty() ? "" : " ") + std::to_string(v.version) + ":" + VersionStateName(v.state);
  }
  return out;
}

class ModelManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelManagerOptions options;
    options.loader = loader_.AsLoader();
    options.on_event = [this](const VersionEvent& e) {
      std::lock_guard<std::mutex> l(events_mu_);
      events_.push_back(e.model_name + "/" + std::to_string(e.version) + " " + VersionStateName(e.state));
    };
    auto m = ModelManager::Create(std::move(options));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    manager_ = std::move(*m);
  }
  std::vector<std::string> events() {
    std::lock_guard<std::mutex> l(events_mu_);
    return events_;
  }
  std::string HeldGraph(const Result<VersionHandle>& h) {
    if (!h.ok()) return h.status().ToString();
    return (*h)->model->info().graph_name;
  }

  FakeLoader loader_;
  std::mutex events_mu_;
  std::vector<std::string> events_;
  std::unique_ptr<ModelManager> manager_;
};

TEST(VersionStateTest, Names) {
  EXPECT_STREQ(VersionStateName(VersionState::kLoading), "LOADING");
  EXPECT_STREQ(VersionStateName(VersionState::kAvailable), "AVAILABLE");
  EXPECT_STREQ(VersionStateName(VersionState::kUnloading), "UNLOADING");
  EXPECT_STREQ(VersionStateName(VersionState::kEnd), "END");
  EXPECT_STREQ(VersionStateName(VersionState::kFailed), "FAILED");
}

TEST(ModelManagerCreateTest, RefusesAMissingLoader) {
  auto m = ModelManager::Create(ModelManagerOptions{});
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelManagerTest, LatestPolicyLoadsOnlyTheHighestVersionFromItsPath) {
  manager_->Reconcile(Snap({Entry("m", {1, 2, 3})}));
  EXPECT_EQ(loader_.calls(), (std::vector<std::string>{"m/3 /repo/m/3/model.onnx"}));
  EXPECT_EQ(States(*manager_, "m"), "3:AVAILABLE");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m")), "m/3");
  EXPECT_EQ(events(), (std::vector<std::string>{"m/3 LOADING", "m/3 AVAILABLE"}));
}

TEST_F(ModelManagerTest, AllAndSpecificPoliciesLoadTheirVersions) {
  manager_->Reconcile(Snap({Entry("a", {1, 2}, All()), Entry("b", {1, 2, 3}, Specific({1, 3, 7}))}));
  EXPECT_EQ(States(*manager_, "a"), "1:AVAILABLE 2:AVAILABLE");
  EXPECT_EQ(States(*manager_, "b"), "1:AVAILABLE 3:AVAILABLE");
  EXPECT_EQ(HeldGraph(manager_->Acquire("b", 1)), "b/1");
  EXPECT_EQ(manager_->Acquire("b", 2).status().code(), StatusCode::kNotFound);
  // Same snapshot again: nothing to do.
  manager_->Reconcile(Snap({Entry("a", {1, 2}, All()), Entry("b", {1, 2, 3}, Specific({1, 3, 7}))}));
  EXPECT_EQ(loader_.calls().size(), 4u);
}

TEST_F(ModelManagerTest, PolicyChangeUnloadsVersionsNoLongerDesired) {
  manager_->Reconcile(Snap({Entry("m", {1, 2, 3}, All())}));
  manager_->Reconcile(Snap({Entry("m", {1, 2, 3}, Specific({2}))}));
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE 3:END");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m")), "m/2");
  EXPECT_EQ(loader_.calls().size(), 3u);
}

TEST_F(ModelManagerTest, NewVersionIsAvailableBeforeTheOldOneUnloads) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  manager_->Reconcile(Snap({Entry("m", {1, 2})}));
  EXPECT_EQ(events(), (std::vector<std::string>{"m/1 LOADING", "m/1 AVAILABLE", "m/2 LOADING", "m/2 AVAILABLE",
                                                "m/1 UNLOADING", "m/1 END"}));
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE");
}

TEST_F(ModelManagerTest, OldVersionServesWhileTheNewOneLoads) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  loader_.Block("m/2");
  std::thread reconcile([&] { manager_->Reconcile(Snap({Entry("m", {1, 2})})); });
  loader_.WaitUntilLoading("m/2");
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE 2:LOADING");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m")), "m/1");
  auto loading = manager_->Acquire("m", 2);
  EXPECT_EQ(loading.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(loading.status().message(), "version 2 of model \"m\" is still loading");
  loader_.Release("m/2");
  reconcile.join();
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m")), "m/2");
}

TEST_F(ModelManagerTest, FailedLoadKeepsTheServingVersionAndIsNotRetried) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  loader_.Fail("m/2", InvalidArgument("node \"x\": bad op"));
  manager_->Reconcile(Snap({Entry("m", {1, 2})}));
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE 2:FAILED");
  auto status = manager_->GetModelStatus("m");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->versions[1].error, "InvalidArgument: node \"x\": bad op");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m")), "m/1");
  auto failed = manager_->Acquire("m", 2);
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "version 2 of model \"m\" failed to load: InvalidArgument: node \"x\": bad op");

  manager_->Reconcile(Snap({Entry("m", {1, 2})}));
  EXPECT_EQ(loader_.calls().size(), 2u);  // not retried while on disk

  // Version 2 deleted: its failure is forgotten, version 1 still serves; then version 3 replaces version 1.
  manager_->Reconcile(Snap({Entry("m", {1})}));
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE");
  manager_->Reconcile(Snap({Entry("m", {1, 3})}));
  EXPECT_EQ(States(*manager_, "m"), "1:END 3:AVAILABLE");
}

TEST_F(ModelManagerTest, FailedFirstLoadLeavesTheModelUnavailable) {
  loader_.Fail("m/1", InvalidArgument("truncated file"));
  manager_->Reconcile(Snap({Entry("m", {1})}));
  auto h = manager_->Acquire("m");
  EXPECT_EQ(h.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(h.status().message(),
            "model \"m\" has no available version; version 1 failed: InvalidArgument: truncated file");
}

TEST_F(ModelManagerTest, InFlightHandleDelaysEnd) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  auto held = manager_->Acquire("m");
  ASSERT_TRUE(held.ok());
  manager_->Reconcile(Snap({Entry("m", {2})}));
  EXPECT_EQ(States(*manager_, "m"), "1:UNLOADING 2:AVAILABLE");
  EXPECT_FALSE(manager_->WaitForUnloads(std::chrono::milliseconds(10)));
  auto gone = manager_->Acquire("m", 1);
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "version 1 of model \"m\" is not served any more");
  // The held version still works for its request.
  EXPECT_EQ((*held)->version, 1);
  EXPECT_EQ((*held)->model->info().graph_name, "m/1");

  held = Status(StatusCode::kInternal, "dropped");  // drops the handle
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE");
  EXPECT_TRUE(manager_->WaitForUnloads(std::chrono::milliseconds(0)));
  EXPECT_EQ(events().back(), "m/1 END");
}

TEST_F(ModelManagerTest, StatusKeepsTheLastFourEndedVersions) {
  // 20 versions replace each other (the latest policy); versions 1..19 end, and only 16..19 stay listed.
  for (int64_t v = 1; v <= 20; ++v) manager_->Reconcile(Snap({Entry("m", {v})}));
  EXPECT_EQ(States(*manager_, "m"), "16:END 17:END 18:END 19:END 20:AVAILABLE");
  // A version that ends when its last handle drops counts as the latest to end: 16 is forgotten then.
  auto held = manager_->Acquire("m");
  ASSERT_TRUE(held.ok());
  manager_->Reconcile(Snap({Entry("m", {21})}));
  EXPECT_EQ(States(*manager_, "m"), "16:END 17:END 18:END 19:END 20:UNLOADING 21:AVAILABLE");
  held = Status(StatusCode::kInternal, "dropped");
  EXPECT_EQ(States(*manager_, "m"), "17:END 18:END 19:END 20:END 21:AVAILABLE");
  // A forgotten version that comes back loads afresh, as a removed one does.
  manager_->Reconcile(Snap({Entry("m", {2}, Specific({2}))}));
  EXPECT_EQ(States(*manager_, "m"), "2:AVAILABLE 18:END 19:END 20:END 21:END");
  EXPECT_EQ(loader_.calls().back(), "m/2 /repo/m/2/model.onnx");
}

TEST_F(ModelManagerTest, EndWaitsForTheLastOfSeveralHandles) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  VersionHandle a = *manager_->Acquire("m");
  VersionHandle b = *manager_->Acquire("m", 1);
  VersionHandle a2 = a;  // copies share one count
  manager_->UnloadAll();
  a.reset();
  a2.reset();
  EXPECT_EQ(events().back(), "m/1 UNLOADING");
  b.reset();
  EXPECT_EQ(events().back(), "m/1 END");
}

TEST_F(ModelManagerTest, LabelsPickTheirVersions) {
  manager_->Reconcile(Snap({Entry("m", {1, 2}, All(), {{"stable", 1}, {"canary", 2}, {"next", 3}})}));
  EXPECT_EQ(HeldGraph(manager_->Acquire("m", std::nullopt, "stable")), "m/1");
  EXPECT_EQ(HeldGraph(manager_->Acquire("m", std::nullopt, "canary")), "m/2");
  auto unknown = manager_->Acquire("m", std::nullopt, "beta");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "label \"beta\" of model \"m\" not found");
  auto dangling = manager_->Acquire("m", std::nullopt, "next");
  EXPECT_EQ(dangling.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(dangling.status().message(), "version 3 of model \"m\" not found");
  EXPECT_EQ(manager_->Acquire("m", 1, "stable").status().code(), StatusCode::kInvalidArgument);
  auto labels = manager_->GetLabels("m");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 3u);
}

TEST_F(ModelManagerTest, LatestIsTheHighestAvailableVersion) {
  loader_.Fail("m/3", InvalidArgument("bad"));
  manager_->Reconcile(Snap({Entry("m", {1, 2, 3}, All())}));
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE 2:AVAILABLE 3:FAILED");
  auto h = manager_->Acquire("m");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)->version, 2);
  EXPECT_EQ((*h)->model_name, "m");
  EXPECT_EQ(manager_->Acquire("m", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ModelManagerTest, UnknownModelIsNotFound) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  auto h = manager_->Acquire("other");
  EXPECT_EQ(h.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(h.status().message(), "model \"other\" not found");
  EXPECT_EQ(manager_->GetModelStatus("other").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(manager_->GetLabels("other").status().code(), StatusCode::kNotFound);
}

TEST_F(ModelManagerTest, ModelWithoutVersionsIsUnavailable) {
  manager_->Reconcile(Snap({Entry("m", {})}));
  auto h = manager_->Acquire("m");
  EXPECT_EQ(h.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(h.status().message(), "model \"m\" has no available version; no version is served");
}

TEST_F(ModelManagerTest, RemovedModelUnloadsAndIsForgottenOnceEnded) {
  manager_->Reconcile(Snap({Entry("m", {1}), Entry("n", {1})}));
  VersionHandle held = *manager_->Acquire("m");
  manager_->Reconcile(Snap({Entry("n", {1})}));
  EXPECT_EQ(manager_->Acquire("m").status().code(), StatusCode::kNotFound);
  auto status = manager_->GetStatus();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0].name, "m");
  EXPECT_FALSE(status[0].in_repository);
  EXPECT_EQ(States(*manager_, "m"), "1:UNLOADING");
  held.reset();
  EXPECT_EQ(States(*manager_, "m"), "1:END");
  manager_->Reconcile(Snap({Entry("n", {1})}));
  status = manager_->GetStatus();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].name, "n");
}

TEST_F(ModelManagerTest, InvalidConfigKeepsServingAndShowsTheError) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  ModelEntry broken = Entry("m", {1, 2});
  broken.valid = false;
  broken.error = "config.yaml: unknown key \"lables\"";
  manager_->Reconcile(Snap({broken}));
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE");
  EXPECT_EQ(manager_->GetModelStatus("m")->error, "config.yaml: unknown key \"lables\"");
  EXPECT_EQ(loader_.calls().size(), 1u);
  manager_->Reconcile(Snap({Entry("m", {1, 2})}));
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE");
  EXPECT_EQ(manager_->GetModelStatus("m")->error, "");
}

TEST_F(ModelManagerTest, VersionDesiredAgainAfterUnloadLoadsAfresh) {
  manager_->Reconcile(Snap({Entry("m", {1, 2}, Specific({1}))}));
  manager_->Reconcile(Snap({Entry("m", {1, 2}, Specific({2}))}));
  EXPECT_EQ(States(*manager_, "m"), "1:END 2:AVAILABLE");
  manager_->Reconcile(Snap({Entry("m", {1, 2}, All())}));
  EXPECT_EQ(States(*manager_, "m"), "1:AVAILABLE 2:AVAILABLE");
  EXPECT_EQ(loader_.calls().size(), 3u);
}

TEST_F(ModelManagerTest, HandlesOutliveTheManager) {
  manager_->Reconcile(Snap({Entry("m", {1})}));
  VersionHandle held = *manager_->Acquire("m");
  manager_.reset();
  EXPECT_EQ(held->model->info().graph_name, "m/1");
  held.reset();
}

// Readers acquire the latest version in a loop while versions 2..kVersions replace each other; every Acquire
// succeeds, versions never go backwards for a reader, and every replaced version reaches END at the end.
TEST_F(ModelManagerTest, ConcurrentAcquireDuringReconcile) {
  constexpr int kVersions = 20;
  constexpr int kReaders = 4;
  manager_->Reconcile(Snap({Entry("m", {1})}));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, backwards{0};
  std::atomic<int64_t> acquired{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop.load()) {
        auto h = manager_->Acquire("m");
        if (!h.ok() || (*h)->model == nullptr) {
          ++failures;
          continue;
        }
        if ((*h)->version < last) ++backwards;
        last = (*h)->version;
        ++acquired;
        std::this_thread::yield();
      }
    });
  }
  for (int v = 2; v <= kVersions; ++v) {
    // Let the readers make progress between swaps, so that reads overlap every swap even on one core.
    int64_t seen = acquired.load();
    while (acquired.load() < seen + kReaders) std::this_thread::yield();
    manager_->Reconcile(Snap({Entry("m", {v})}));
  }
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_GT(acquired.load(), 0);
  EXPECT_TRUE(manager_->WaitForUnloads(std::chrono::milliseconds(1000)));
  // Every older version ended; the status keeps the 4 that ended last (which ones depends on when the
  // readers dropped their handles).
  auto status = manager_->GetModelStatus("m");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->versions.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(status->versions[i].state, VersionState::kEnd);
  EXPECT_EQ(status->versions[4].version, kVersions);
  EXPECT_EQ(status->versions[4].state, VersionState::kAvailable);
}

}  // namespace
}  // namespace ferry
