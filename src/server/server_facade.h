// ServerFacade: the public Server interface (ferry/server.h) over a ModelServer, for the API layer. It turns the
// manager's handles into held ServedVersions, queues inference on the version's scheduler, copies statistics into
// plain structs and forwards repository operations and request metrics. It adds no state of its own.
//
// Thread safety: as ModelServer (every method is thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/server.h"
#include "server/model_server.h"

namespace ferry {

class ServerFacade final : public Server {
 public:
  // REQUIRES: `server` outlives the facade and every request still running (their callbacks report metrics).
  explicit ServerFacade(ModelServer* server) : server_(server) {}

  Result<VersionRef> AcquireVersion(const std::string& model, std::optional<int64_t> version,
                                    const std::optional<std::string>& label) const override;
  Status Infer(InferRequest request, InferCallback done) override;

  bool Ready() const override { return server_->Ready(); }
  std::vector<ModelStatus> GetStatus() const override { return server_->manager().GetStatus(); }
  Result<ModelStatus> GetModelStatus(const std::string& model) const override {
    return server_->manager().GetModelStatus(model);
  }
  Result<std::map<std::string, int64_t>> GetLabels(const std::string& model) const override {
    return server_->manager().GetLabels(model);
  }
  VersionStatistics Statistics(const ServedVersion& version) const override;

  std::vector<IndexEntry> Index() const override { return server_->Index(); }
  Status LoadModel(const std::string& model) override { return server_->LoadModel(model); }
  Status UnloadModel(const std::string& model) override { return server_->UnloadModel(model); }
  Result<UploadResult> PutVersion(const std::string& model, std::optional<int64_t> version,
                                  std::string_view body) override {
    return server_->PutVersion(model, version, body);
  }
  Result<UploadResult> PutVersionFile(const std::string& model, std::optional<int64_t> version,
                                      const std::string& path) override {
    return server_->PutVersionFile(model, version, path);
  }
  Status DeleteVersion(const std::string& model, int64_t version) override {
    return server_->DeleteVersion(model, version);
  }
  Result<std::string> GetConfigText(const std::string& model) const override { return server_->GetConfigText(model); }
  Status PutConfig(const std::string& model, const std::string& yaml_text) override {
    return server_->PutConfig(model, yaml_text);
  }
  size_t MaxConfigBytes() const override;
  std::string RepositoryPath() const override { return server_->repository(); }

  void RequestStarted() override;
  void RequestAnswered(const RequestRecord& record) override;
  std::string RenderMetrics() const override { return server_->metrics().Render(); }

 private:
  ModelServer* server_;
};

}  // namespace ferry
