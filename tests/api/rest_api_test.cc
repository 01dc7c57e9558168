// RestApi without sockets: plain HttpRequests in, replies captured from the Responder. Models are built in
// memory by a fake loader (y = x + version, so every reply says which version answered); the repository is a
// real temporary directory whose model.onnx files are placeholders ("bad" marks one that fails to load).
// Expected values are written out by hand.
#include "api/rest_api.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>

#include "api/access_rules.h"
#include "common/tiny_graph.h"
#include "server/server_facade.h"

namespace ferry::api {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// x float[batch, 2] -> Add(x, c) -> y, with c = [version].
Result<std::shared_ptr<const Model>> AddModel(int64_t version) {
  testing::TinyGraphSpec spec;
  spec.op_type = "Add";
  spec.x_shape = {Dim{-1, "batch"}, Dim{2, ""}};
  spec.initializers = {Tensor::FromVector<float>({1}, {static_cast<float>(version)})};
  std::shared_ptr<const Model> m = testing::TinyModel(spec);
  if (!m) return Internal("the test model did not build");
  return m;
}

Result<std::shared_ptr<const Model>> FakeLoad(const std::string&, int64_t version, const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.rfind("bad", 0) == 0) return InvalidArgument("fake loader: {} is bad", path);
  return AddModel(version);
}

struct Reply {
  int status = 0;
  Json json;
  std::string body;
  std::map<std::string, std::string> headers;
};

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fs::path("ferry_api_test_" + std::to_string(::getpid()) + "_" +
                                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    repo_ = root_ / "repo";
    fs::create_directories(repo_ / "m" / "1");
    std::ofstream(repo_ / "m" / "1" / "model.onnx") << "ok";
    std::ofstream(repo_ / "m" / "config.yaml") << "labels: {stable: 1}\nmax_batch_size: 4\n";
    ModelServerOptions so;
    so.repository = repo_.string();
    so.loader = FakeLoad;
    auto server = ModelServer::Create(so);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    ASSERT_TRUE(server_->Start().ok());
    RestApiOptions ao;
    ao.server_version = "9.9.9";
    ao.max_request_bytes = 1000;
    ao.max_upload_bytes = 5000;
    facade_ = std::make_unique<ServerFacade>(server_.get());
    api_ = std::make_unique<RestApi>(facade_.get(), ao);
  }
  void TearDown() override {
    api_.reset();
    facade_.reset();
    server_.reset();
    fs::remove_all(root_);
  }

  Reply Call(const std::string& method, const std::string& path, std::string body = "",
             std::map<std::string, std::string> headers = {}) {
    http::HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = std::move(body);
    req.headers = std::move(headers);
    auto promise = std::make_shared<std::promise<http::HttpResponse>>();
    std::future<http::HttpResponse> future = promise->get_future();
    api_->Handle(std::move(req), [promise](http::HttpResponse r) { promise->set_value(std::move(r)); });
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready) << method << " " << path;
    http::HttpResponse r = future.get();
    Reply out{r.status, Json(), r.body, r.headers};
    out.json = Json::parse(r.body, nullptr, false);
    return out;
  }

  fs::path root_, repo_;
  std::unique_ptr<ModelServer> server_;
  std::unique_ptr<ServerFacade> facade_;
  std::unique_ptr<RestApi> api_;
};

TEST_F(RestApiTest, RoutesAndMethods) {
  struct Case {
    const char* method;
    const char* path;
    int status;
  };
  const Case cases[] = {
      {"GET", "/v1/models/m", 200},
      {"GET", "/V1/Models/m/Versions/1", 200},  // TF Serving matches /v1 paths case-insensitively
      {"GET", "/v1/models/m/labels/stable", 200},
      {"GET", "/v1/models/m/metadata", 200},
      {"GET", "/v1/models", 400},
      {"GET", "/v1/models/m/versions/abc", 400},
      {"GET", "/v1/models/m/", 400},
      {"GET", "/v1/models/m:predict", 405},
      {"POST", "/v1/models/m", 405},
      {"POST", "/v1/models/m/metadata", 405},
      {"POST", "/v1/models/m:classify", 501},
      {"POST", "/v1/models/m:frobnicate", 400},
      {"PATCH", "/v1/models/m/config", 405},
      {"GET", "/v2", 200},
      {"GET", "/v2/", 404},
      {"GET", "/v2/health/live", 200},
      {"GET", "/v2/health/ready", 200},
      {"POST", "/v2/health/live", 405},
      {"GET", "/v2/models/m", 200},
      {"GET", "/v2/models/m/versions/1/ready", 200},
      {"GET", "/v2/models/m/versions/x/ready", 404},
      {"DELETE", "/v2/models/m/infer", 405},
      {"GET", "/v2/repository/index", 405},
      {"GET", "/v2/nothing", 404},
      {"GET", "/", 404},
      {"GET", "/v3/models/m", 404},
  };
  for (const Case& c : cases) {
    Reply r = Call(c.method, c.path);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << ": " << r.body;
    if (r.status >= 400) {
      ASSERT_TRUE(r.json.is_object()) << c.method << " " << c.path << ": " << r.body;
      EXPECT_TRUE(r.json["error"].is_string()) << r.body;
    }
  }
}

TEST_F(RestApiTest, TfsStatusAndErrors) {
  Reply r = Call("GET", "/v1/models/m");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json, Json::parse(R"({"model_version_status":[{"version":"1","state":"AVAILABLE",
                                    "status":{"error_code":"OK","error_message":""}}]})"));
  r = Call("GET", "/v1/models/zz");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Could not find any versions of model zz");
  r = Call("GET", "/v1/models/m/versions/7");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Could not find version 7 of model m");
  r = Call("GET", "/v1/models/m/labels/nope");
  EXPECT_EQ(r.status, 404);
  r = Call("GET", "/v1/models/m/versions/99999999999999999999");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json["error"], "Failed to convert version: 99999999999999999999 to numeric.");
}

TEST_F(RestApiTest, TfsPredictRowAndColumnar) {
  Reply r = Call("POST", "/v1/models/m:predict", R"({"instances": [[1, 2], [3.5, -4]]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json, Json::parse(R"({"predictions": [[2.0, 3.0], [4.5, -3.0]]})"));
  r = Call("POST", "/v1/models/m/labels/stable:predict", R"({"inputs": {"x": [[0, 0]]}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json, Json::parse(R"({"outputs": [[1.0, 1.0]]})"));
  // JSON errors come before the model lookup (TF Serving's order).
  r = Call("POST", "/v1/models/zz:predict", "{");
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/v1/models/zz:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Servable not found for request: Latest(zz)");
  r = Call("POST", "/v1/models/m/versions/3:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Servable not found for request: Specific(m, 3)");
  r = Call("POST", "/v1/models/m/labels/canary:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Unrecognized servable version label: canary");
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[1, 2, 3]]})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v1/models/m:predict", R"({"signature_name": "other", "instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 400);
  // max_batch_size: 4 in config.yaml.
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[1,2],[1,2],[1,2],[1,2],[1,2]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.json["error"].get<std::string>().find("max_batch_size of 4"), std::string::npos) << r.body;
}

TEST_F(RestApiTest, KserveInferJsonAndBinary) {
  Reply r = Call("POST", "/v2/models/m/infer",
                 R"({"id": "q1", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [[5, 6]]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json, Json::parse(R"({"model_name": "m", "model_version": "1", "id": "q1",
      "outputs": [{"name": "y", "datatype": "FP32", "shape": [1, 2], "data": [6.0, 7.0]}]})"));

  // Binary in and out: two float32 values 1.5 and -2, little-endian.
  std::string json = R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2],
      "parameters": {"binary_data_size": 8}}], "outputs": [{"name": "y", "parameters": {"binary_data": true}}]})";
  float in[2] = {1.5f, -2.0f};
  std::string body = json + std::string(reinterpret_cast<const char*>(in), sizeof in);
  r = Call("POST", "/v2/models/m/versions/1/infer", body,
           {{"inference-header-content-length", std::to_string(json.size())}});
  ASSERT_EQ(r.status, 200) << r.body;
  size_t header = std::stoul(r.headers.at("Inference-Header-Content-Length"));
  ASSERT_EQ(r.body.size(), header + 8);
  Json head = Json::parse(r.body.substr(0, header));
  EXPECT_EQ(head["outputs"][0]["parameters"]["binary_data_size"], 8);
  float out[2];
  std::memcpy(out, r.body.data() + header, 8);
  EXPECT_EQ(out[0], 2.5f);
  EXPECT_EQ(out[1], -1.0f);

  r = Call("POST", "/v2/models/zz/infer", "not even json");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.json["error"], "Request for unknown model: 'zz' is not found");
  r = Call("POST", "/v2/models/m/versions/4/infer", "{}");
  EXPECT_EQ(r.status, 404);
  r = Call("POST", "/v2/models/m/infer",
           R"({"inputs": [{"name": "x", "datatype": "INT32", "shape": [1, 2], "data": [1, 2]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = Call("POST", "/v2/models/m/infer", R"({"inputs": [}")");
  EXPECT_EQ(r.status, 400) << r.body;
}

// The loopback guard of the management routes: host names compared without port and case, nothing else
// accepted (not even names that merely start or end like a local one).
TEST_F(RestApiTest, ManagementRoutesNeedALocalHostWhenGuarded) {
  RestApiOptions ao;
  ao.management_hosts = {"localhost", "127.0.0.1", "[::1]"};
  api_ = std::make_unique<RestApi>(facade_.get(), ao);
  for (const char* host : {"localhost", "LocalHost:8501", "127.0.0.1:9", "[::1]:8501", "[::1]"}) {
    EXPECT_EQ(Call("POST", "/v2/repository/index", "", {{"host", host}}).status, 200) << host;
  }
  for (const char* host : {"", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io:8501", "[::2]:8501",
                           "evil.example:80@localhost"}) {
    Reply r = Call("POST", "/v2/repository/index", "", {{"host", host}});
    EXPECT_EQ(r.status, 403) << host;
    EXPECT_NE(r.json.value("error", "").find("addressed to this machine"), std::string::npos) << r.body;
  }
  EXPECT_EQ(Call("POST", "/v2/repository/index", "", {}).status, 403) << "no Host at all";
  const std::map<std::string, std::string> local = {{"host", "localhost:8501"}};
  auto with = [&](std::string name, std::string value) {
    auto h = local;
    h[name] = value;
    return h;
  };
  EXPECT_EQ(Call("PUT", "/v1/models/m/config", "max_batch_size: 2\n", with("origin", "http://evil.example")).status,
            403);
  EXPECT_EQ(Call("PUT", "/v1/models/m/config", "max_batch_size: 2\n", with("origin", "null")).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/models/m/versions/1", "", with("sec-fetch-site", "cross-site")).status, 403);
  EXPECT_EQ(Call("GET", "/v1/models/m/config", "", with("sec-fetch-site", "same-site")).status, 200);
  EXPECT_EQ(Call("GET", "/v1/models/m/config", "", with("origin", "http://127.0.0.1:3000")).status, 200);
  // Inference, status and metadata are not management: any Host.
  EXPECT_EQ(Call("GET", "/v1/models/m", "", {{"host", "evil.example"}}).status, 200);
  EXPECT_EQ(Call("GET", "/v2/health/live", "", {}).status, 200);
}

// What each route needs from a token (the table in access_rules.h).
TEST(AccessRules, RoutesNeedScopesOnModels) {
  struct Row {
    const char* method;
    const char* path;
    bool open;
    auth::Scope scope;
    const char* model;  // "" for server-wide
    bool management;
  };
  const Row rows[] = {
      {"GET", "/v2/health/ready", true, auth::kRead, "", false},
      {"GET", "/v2", true, auth::kRead, "", false},
      {"POST", "/v1/models/m:predict", false, auth::kInfer, "m", false},
      {"POST", "/v1/models/m/versions/2:predict", false, auth::kInfer, "m", false},
      {"POST", "/v1/models/m/labels/stable:classify", false, auth::kInfer, "m", false},
      {"POST", "/v2/models/m/versions/3/infer", false, auth::kInfer, "m", false},
      {"GET", "/v1/models/m", false, auth::kRead, "m", false},
      {"GET", "/v1/models/m/metadata", false, auth::kRead, "m", false},
      {"GET", "/v1/models/m/config", false, auth::kRead, "m", false},
      {"GET", "/v2/models/m/stats", false, auth::kRead, "m", false},
      {"PUT", "/v1/models/m/config", false, auth::kManage, "m", true},
      {"PUT", "/v1/models/m/versions/4", false, auth::kManage, "m", true},
      {"POST", "/v1/models/m/versions", false, auth::kManage, "m", true},
      {"DELETE", "/v1/models/m/versions/4", false, auth::kManage, "m", true},
      {"POST", "/v2/repository/models/m/load", false, auth::kManage, "m", true},
      {"POST", "/v2/repository/models/m/unload", false, auth::kManage, "m", true},
      {"POST", "/v2/repository/index", false, auth::kRead, "", false},
      {"GET", "/v2/models/stats", false, auth::kRead, "", false},
      {"GET", "/metrics", false, auth::kRead, "", false},
      {"GET", "/nowhere", false, auth::kRead, "", false},
  };
  for (const Row& r : rows) {
    Access a = RequiredAccess(r.method, r.path);
    EXPECT_EQ(a.open, r.open) << r.method << " " << r.path;
    if (r.open) continue;
    EXPECT_EQ(a.scope, r.scope) << r.method << " " << r.path;
    EXPECT_EQ(a.model, r.model) << r.method << " " << r.path;
    EXPECT_EQ(a.server_wide, std::string(r.model).empty()) << r.method << " " << r.path;
    EXPECT_EQ(a.management, r.management) << r.method << " " << r.path;
    // The loopback guard covers every management route, config reads and the whole repository extension.
    const bool repository = r.management || std::string(r.path).find("/config") != std::string::npos ||
                            std::string(r.path).rfind("/v2/repository/", 0) == 0;
    EXPECT_EQ(a.repository, repository) << r.method << " " << r.path;
  }
}

// Bearer tokens: 401 with WWW-Authenticate without a valid one, 403 out of scope or models, the token's name
// in the access record.
TEST_F(RestApiTest, BearerTokensGuardEveryRouteButHealth) {
  auto set = auth::TokenSet::Parse("reader read * " + auth::HashHex("r-secret") + "\n" +  //
                                   "team manage,read,infer m* " + auth::HashHex("t-secret") + "\n");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  auto tokens = std::make_shared<const auth::TokenSet>(std::move(*set));
  std::vector<AccessRecord> records;
  std::mutex mu;
  RestApiOptions ao;
  ao.tokens = [tokens] { return tokens; };
  ao.on_access = [&](const AccessRecord& r) {
    std::lock_guard<std::mutex> lock(mu);
    records.push_back(r);
  };
  api_ = std::make_unique<RestApi>(facade_.get(), ao);
  auto bearer = [](const char* secret) { return std::map<std::string, std::string>{{"authorization", secret}}; };

  EXPECT_EQ(Call("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Call("GET", "/v2").status, 200);
  Reply r = Call("GET", "/v1/models/m");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.headers["WWW-Authenticate"], "Bearer realm=\"ferryd\"");
  EXPECT_EQ(Call("GET", "/v1/models/m", "", bearer("Bearer wrong")).status, 401);
  EXPECT_EQ(Call("GET", "/v1/models/m", "", bearer("Basic r-secret")).status, 401);
  EXPECT_EQ(Call("GET", "/metrics", "", bearer("Bearer r-secret")).status, 200);
  EXPECT_EQ(Call("GET", "/v1/models/m", "", bearer("bearer r-secret")).status, 200);  // scheme is case-insensitive
  r = Call("PUT", "/v1/models/m/config", "max_batch_size: 2\n", bearer("Bearer r-secret"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.json.value("error", "").find("token \"reader\" has no manage scope"), std::string::npos) << r.body;
  EXPECT_EQ(Call("PUT", "/v1/models/m/config", "max_batch_size: 2\n", bearer("Bearer t-secret")).status, 200);
  r = Call("GET", "/metrics", "", bearer("Bearer t-secret"));
  EXPECT_EQ(r.status, 403) << "a token limited to m* does not read server-wide metrics";
  r = Call("POST", "/v2/repository/models/other/load", "", bearer("Bearer t-secret"));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.json.value("error", "").find("does not cover model \"other\""), std::string::npos) << r.body;
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().token, "team");
  bool audited = false;
  for (const AccessRecord& rec : records) {
    if (rec.path == "/v1/models/m/config" && rec.status == 200) audited = rec.management && rec.token == "team";
  }
  EXPECT_TRUE(audited);
}

TEST_F(RestApiTest, WithoutTokensManagementCanBeClosed) {
  RestApiOptions ao;
  ao.management_without_tokens = false;  // a server on a non-loopback address
  api_ = std::make_unique<RestApi>(facade_.get(), ao);
  Reply r = Call("PUT", "/v1/models/m/versions/2", "model bytes");
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.json.value("error", "").find("set tokens_file"), std::string::npos) << r.body;
  EXPECT_EQ(Call("POST", "/v2/repository/models/m/unload").status, 403);
  EXPECT_EQ(Call("GET", "/v1/models/m").status, 200);
}

TEST_F(RestApiTest, BodyLimitsAndShutdown) {
  // Uploads: the upload limit, streamed to a file at the top of the repository; the rest in memory.
  for (auto [method, path] :
       {std::pair{"PUT", "/v1/models/m/versions/2"}, std::pair{"POST", "/v1/models/m/versions"}}) {
    http::BodyPolicy p = api_->BodyPolicy(method, path);
    EXPECT_EQ(p.max_bytes, 5000u) << path;
    EXPECT_EQ(p.spool_dir, server_->repository()) << path;
  }
  for (auto [method, path] : {std::pair{"POST", "/v1/models/m:predict"}, std::pair{"POST", "/v2/models/m/infer"},
                              std::pair{"PUT", "/v1/models/m/config"}, std::pair{"PUT", "/v1/models/m/versions/2:x"}}) {
    http::BodyPolicy p = api_->BodyPolicy(method, path);
    EXPECT_EQ(p.max_bytes, 1000u) << path;
    EXPECT_EQ(p.spool_dir, "") << path;
  }
  Reply r = Call("POST", "/v1/models/m:predict", std::string(1001, ' '));
  EXPECT_EQ(r.status, 413);
  api_->SetShuttingDown();
  r = Call("GET", "/v2/health/live");
  EXPECT_EQ(r.status, 503);
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(api_->in_flight(), 0);
}

TEST_F(RestApiTest, UploadsDeletesAndConfig) {
  Reply r = Call("PUT", "/v1/models/m/versions/2", "bad model");
  EXPECT_EQ(r.status, 400);
  EXPECT_FALSE(fs::exists(repo_ / "m" / "2"));
  for (const auto& e : fs::directory_iterator(repo_)) EXPECT_EQ(e.path().filename(), "m");  // no staging left
  r = Call("PUT", "/v1/models/m/versions/2", "ok");
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json, Json::parse(R"({"model": "m", "version": 2, "state": "AVAILABLE"})"));
  r = Call("PUT", "/v1/models/m/versions/2", "ok");
  EXPECT_EQ(r.status, 409);
  r = Call("POST", "/v1/models/m/versions", "ok");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.json["version"], 3);
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[0, 0]]})");
  EXPECT_EQ(r.json, Json::parse(R"({"predictions": [[3.0, 3.0]]})"));
  r = Call("PUT", "/v1/models/bad..name!/versions/1", "ok");
  EXPECT_EQ(r.status, 400);

  r = Call("PUT", "/v1/models/m/config", "version_policy: {all: {}}\nlables: {}\n");
  EXPECT_EQ(r.status, 400);
  r = Call("GET", "/v1/models/m/config");
  EXPECT_EQ(r.body, "labels: {stable: 1}\nmax_batch_size: 4\n");
  r = Call("PUT", "/v1/models/m/config", "version_policy: {all: {}}\n");
  EXPECT_EQ(r.status, 200);
  r = Call("GET", "/v1/models/m");
  ASSERT_EQ(r.json["model_version_status"].size(), 3u) << r.body;
  for (const Json& v : r.json["model_version_status"]) EXPECT_EQ(v["state"], "AVAILABLE") << r.body;

  r = Call("DELETE", "/v1/models/m/versions/3");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(fs::exists(repo_ / "m" / "3"));
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[0, 0]]})");
  EXPECT_EQ(r.json, Json::parse(R"({"predictions": [[2.0, 2.0]]})"));
  r = Call("DELETE", "/v1/models/m/versions/3");
  EXPECT_EQ(r.status, 404);
  r = Call("GET", "/v1/models/zz/config");
  EXPECT_EQ(r.status, 404);
}

TEST_F(RestApiTest, RepositoryLoadUnloadAndIndex) {
  Reply r = Call("POST", "/v2/repository/index");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json, Json::parse(R"([{"name": "m", "version": "1", "state": "READY"}])"));
  r = Call("POST", "/v2/repository/index", R"({"ready": "yes"})");
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/v2/repository/models/m/unload", R"({"parameters": {"unload_dependents": false}})");
  EXPECT_EQ(r.status, 200);
  r = Call("POST", "/v2/models/m/infer", "{}");
  EXPECT_EQ(r.status, 404);
  r = Call("GET", "/v2/health/ready");
  EXPECT_EQ(r.status, 200);  // an explicitly unloaded model does not count
  r = Call("POST", "/v2/repository/index");
  EXPECT_EQ(r.json, Json::parse(R"([{"name": "m", "state": "UNAVAILABLE", "reason": "unloaded"}])")) << r.body;
  EXPECT_TRUE(server_->Rescan().ok());  // a poll does not bring it back
  r = Call("POST", "/v2/models/m/infer", "{}");
  EXPECT_EQ(r.status, 404);
  r = Call("POST", "/v2/repository/models/m/load");
  EXPECT_EQ(r.status, 200) << r.body;
  r = Call("GET", "/v2/models/m/ready");
  EXPECT_EQ(r.status, 200);
  r = Call("POST", "/v2/repository/models/zz/load");
  EXPECT_EQ(r.status, 404);
  r = Call("POST", "/v2/repository/models/zz/unload");
  EXPECT_EQ(r.status, 200);
}

TEST_F(RestApiTest, FailedVersionIsNotReady) {
  fs::create_directories(repo_ / "m" / "2");
  std::ofstream(repo_ / "m" / "2" / "model.onnx") << "bad";
  ASSERT_TRUE(server_->Rescan().ok());
  Reply r = Call("GET", "/v1/models/m/versions/2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json["model_version_status"][0]["state"], "END");
  EXPECT_NE(r.json["model_version_status"][0]["status"]["error_message"].get<std::string>().find("is bad"),
            std::string::npos);
  r = Call("POST", "/v1/models/m/versions/2:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.status, 503);
  r = Call("GET", "/v2/models/m/versions/2/ready");
  EXPECT_EQ(r.status, 503);
  // Version 1 keeps serving.
  r = Call("POST", "/v1/models/m:predict", R"({"instances": [[1, 2]]})");
  EXPECT_EQ(r.json, Json::parse(R"({"predictions": [[2.0, 3.0]]})"));
}

}  // namespace
}  // namespace ferry::api
