// ServerFacade: the public Server interface over a real ModelServer. The repository is a temporary directory whose
// model.onnx files are placeholders; the fake loader builds x float[batch, 2] -> Add(x, [version]) -> y, so every
// output says which version ran it. Expected values are that arithmetic, written out by hand.
#include "server/server_facade.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>

#include "common/tiny_graph.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

Result<std::shared_ptr<const Model>> AddModel(int64_t version) {
  testing::TinyGraphSpec spec;
  spec.op_type = "Add";
  spec.x_shape = {Dim{-1, "batch"}, Dim{2, ""}};
  spec.initializers = {Tensor::FromVector<float>({1}, {static_cast<float>(version)})};
  std::shared_ptr<const Model> m = testing::TinyModel(spec);
  if (!m) return Internal("the test model did not build");
  return m;
}

// What Infer's callback received.
struct Answer {
  Result<std::map<std::string, Tensor>> outputs = Internal("no answer");
  InferTiming timing;
};

class ServerFacadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry_server_facade_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    repo_ = tmpl;
    for (int v : {1, 2}) {
      fs::create_directories(repo_ / "m" / std::to_string(v));
      std::ofstream(repo_ / "m" / std::to_string(v) / "model.onnx") << "placeholder";
    }
    // Both versions served; "stable" names the older one.
    std::ofstream(repo_ / "m" / "config.yaml") << "labels: {stable: 1}\nmax_batch_size: 4\nversion_policy: {all: {}}\n";
    ModelServerOptions options;
    options.repository = repo_.string();
    options.loader = [](const std::string&, int64_t version, const std::string&) { return AddModel(version); };
    auto created = ModelServer::Create(options);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    server_ = std::move(*created);
    ASSERT_TRUE(server_->Start().ok());
    facade_ = std::make_unique<ServerFacade>(server_.get());
  }
  void TearDown() override {
    facade_.reset();
    if (server_) server_->Stop();
    server_.reset();
    std::error_code ec;
    fs::remove_all(repo_, ec);
  }

  // Runs `request` and waits for its callback; the Status is Infer's own (the callback is not waited for then).
  Status Run(InferRequest request, Answer* answer) {
    auto promise = std::make_shared<std::promise<Answer>>();
    std::future<Answer> future = promise->get_future();
    Status queued = facade_->Infer(std::move(request),
                                   [promise](Result<std::map<std::string, Tensor>> outputs, const InferTiming& t) {
                                     promise->set_value(Answer{std::move(outputs), t});
                                   });
    if (!queued.ok()) return queued;
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    *answer = future.get();
    return Status::Ok();
  }

  static std::map<std::string, Tensor> X(float a, float b) {
    return {{"x", Tensor::FromVector<float>({1, 2}, {a, b})}};
  }
  static std::vector<float> Y(const Answer& answer) {
    EXPECT_TRUE(answer.outputs.ok()) << answer.outputs.status().ToString();
    if (!answer.outputs.ok() || !answer.outputs->count("y")) return {};
    const Tensor& y = answer.outputs->at("y");
    return std::vector<float>(y.as<float>(), y.as<float>() + y.numel());
  }

  fs::path repo_;
  std::unique_ptr<ModelServer> server_;
  std::unique_ptr<ServerFacade> facade_;
};

TEST_F(ServerFacadeTest, AcquireVersionDescribesTheVersionItHolds) {
  Result<VersionRef> latest = facade_->AcquireVersion("m", std::nullopt, std::nullopt);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_EQ((*latest)->model, "m");
  EXPECT_EQ((*latest)->version, 2);
  ASSERT_EQ((*latest)->inputs.size(), 1u);
  const TensorInfo& x = (*latest)->inputs[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DataType::kFloat);
  EXPECT_TRUE(x.has_shape);
  ASSERT_EQ(x.shape.size(), 2u);
  EXPECT_EQ(x.shape[0].size, -1);
  EXPECT_EQ(x.shape[0].name, "batch");
  EXPECT_EQ(x.shape[1].size, 2);
  EXPECT_EQ(x.shape[1].name, "");
  ASSERT_EQ((*latest)->outputs.size(), 1u);
  EXPECT_EQ((*latest)->outputs[0].name, "y");
  EXPECT_FALSE((*latest)->outputs[0].has_shape);

  Result<VersionRef> stable = facade_->AcquireVersion("m", std::nullopt, std::string("stable"));
  ASSERT_TRUE(stable.ok());
  EXPECT_EQ((*stable)->version, 1);
  EXPECT_EQ(facade_->AcquireVersion("nope", std::nullopt, std::nullopt).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(facade_->AcquireVersion("m", 3, std::nullopt).status().code(), StatusCode::kNotFound);
}

TEST_F(ServerFacadeTest, InferRunsOnTheAcquiredVersion) {
  Result<VersionRef> v1 = facade_->AcquireVersion("m", 1, std::nullopt);
  ASSERT_TRUE(v1.ok());
  InferRequest request;
  request.served = *v1;
  request.inputs = X(10, 20);
  Answer answer;
  ASSERT_TRUE(Run(std::move(request), &answer).ok());
  EXPECT_EQ(Y(answer), (std::vector<float>{11, 21}));
  EXPECT_EQ(answer.timing.batch_rows, 1);
}

TEST_F(ServerFacadeTest, InferWithoutAServedVersionResolvesTheNames) {
  InferRequest latest;
  latest.model = "m";
  latest.inputs = X(1, 2);
  Answer answer;
  ASSERT_TRUE(Run(std::move(latest), &answer).ok());
  EXPECT_EQ(Y(answer), (std::vector<float>{3, 4}));  // version 2

  InferRequest labeled;
  labeled.model = "m";
  labeled.label = "stable";
  labeled.inputs = X(1, 2);
  ASSERT_TRUE(Run(std::move(labeled), &answer).ok());
  EXPECT_EQ(Y(answer), (std::vector<float>{2, 3}));  // version 1
}

TEST_F(ServerFacadeTest, RequestsThatCannotBeQueuedAreRefusedWithoutACallback) {
  Answer answer;
  InferRequest unknown;
  unknown.model = "nope";
  unknown.inputs = X(1, 2);
  EXPECT_EQ(Run(std::move(unknown), &answer).code(), StatusCode::kNotFound);

  InferRequest missing;
  missing.model = "m";
  Status s = Run(std::move(missing), &answer);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "missing input \"x\"");

  InferRequest foreign;  // a ServedVersion this server did not hand out
  foreign.served = std::make_shared<ServedVersion>();
  foreign.inputs = X(1, 2);
  EXPECT_EQ(Run(std::move(foreign), &answer).code(), StatusCode::kInvalidArgument);

  InferRequest too_many_rows;  // max_batch_size: 4
  too_many_rows.model = "m";
  too_many_rows.inputs = {{"x", Tensor::FromVector<float>({5, 2}, std::vector<float>(10, 0))}};
  EXPECT_EQ(Run(std::move(too_many_rows), &answer).code(), StatusCode::kInvalidArgument);
}

TEST_F(ServerFacadeTest, AHeldVersionStillRunsAfterItIsUnloaded) {
  Result<VersionRef> v1 = facade_->AcquireVersion("m", 1, std::nullopt);
  ASSERT_TRUE(v1.ok());
  ASSERT_TRUE(facade_->UnloadModel("m").ok());
  EXPECT_FALSE(facade_->AcquireVersion("m", 1, std::nullopt).ok());
  InferRequest request;
  request.served = *v1;
  request.inputs = X(5, 6);
  Answer answer;
  ASSERT_TRUE(Run(std::move(request), &answer).ok());
  EXPECT_EQ(Y(answer), (std::vector<float>{6, 7}));
}

TEST_F(ServerFacadeTest, StatisticsCountWhatRan) {
  Result<VersionRef> v2 = facade_->AcquireVersion("m", 2, std::nullopt);
  ASSERT_TRUE(v2.ok());
  for (int i = 0; i < 2; ++i) {
    InferRequest request;
    request.served = *v2;
    request.inputs = X(0, 0);
    Answer answer;
    ASSERT_TRUE(Run(std::move(request), &answer).ok());
  }
  VersionStatistics st = facade_->Statistics(**v2);
  EXPECT_EQ(st.model, "m");
  EXPECT_EQ(st.version, 2);
  EXPECT_EQ(st.inference_count, 2u);  // one row each
  EXPECT_EQ(st.execution_count, 2u);  // one at a time
  EXPECT_EQ(st.success.count, 2u);
  EXPECT_EQ(st.fail.count, 0u);
  ASSERT_EQ(st.batches.size(), 1u);
  EXPECT_EQ(st.batches[0].batch_size, 1);
  EXPECT_EQ(st.batches[0].compute_infer.count, 2u);
  EXPECT_GE(st.memory_bytes, 4u);  // at least the 4-byte initializer
  EXPECT_GT(st.last_inference_ms, 0);

  // A version this server did not hand out: only its names.
  ServedVersion foreign;
  foreign.model = "x";
  foreign.version = 7;
  VersionStatistics none = facade_->Statistics(foreign);
  EXPECT_EQ(none.model, "x");
  EXPECT_EQ(none.version, 7);
  EXPECT_EQ(none.inference_count, 0u);
  EXPECT_TRUE(none.batches.empty());
}

TEST_F(ServerFacadeTest, RequestMetricsReachTheExposition) {
  facade_->RequestStarted();
  EXPECT_NE(facade_->RenderMetrics().find("\nferry_inflight_requests 1\n"), std::string::npos);
  facade_->RequestAnswered(RequestRecord{"ferry", "", "", 200, 0.01});
  const std::string text = facade_->RenderMetrics();
  EXPECT_NE(text.find("\nferry_inflight_requests 0\n"), std::string::npos);
  EXPECT_NE(text.find("ferry_requests_total{protocol=\"ferry\",model=\"\",version=\"\",code=\"200\"} 1"),
            std::string::npos);
}

TEST_F(ServerFacadeTest, RepositoryCallsReachTheServer) {
  EXPECT_TRUE(facade_->Ready());
  EXPECT_EQ(facade_->RepositoryPath(), repo_.string());
  EXPECT_EQ(facade_->MaxConfigBytes(), 64u * 1024);
  Result<std::map<std::string, int64_t>> labels = facade_->GetLabels("m");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::map<std::string, int64_t>{{"stable", 1}}));
  Result<ModelStatus> status = facade_->GetModelStatus("m");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->versions.size(), 2u);
  EXPECT_EQ(status->versions[1].state, VersionState::kAvailable);
  const std::vector<IndexEntry> index = facade_->Index();  // a row per version
  ASSERT_EQ(index.size(), 2u);
  for (const IndexEntry& e : index) {
    EXPECT_EQ(e.name, "m");
    EXPECT_EQ(e.state, "READY");
  }
}

}  // namespace
}  // namespace ferry
