// Server: everything the API layer (src/api) and out-of-tree front ends may ask of the model side, in plain
// structs (ferry/server_types.h): asynchronous inference, status and metadata, statistics, the repository
// operations and the request metrics. Front ends include this header, never src/server, src/scheduler or
// src/graph (Triton's front ends see only tritonserver.h the same way). src/server/server_facade.h implements it
// over ModelServer.
//
// Versions: a request first acquires a ServedVersion (AcquireVersion), which holds that version loaded, and
// decodes its tensors against the signature it names; Infer with that ServedVersion runs on exactly that version,
// even if a newer one became AVAILABLE or this one started UNLOADING in between.
//
// Thread safety: every method may be called from any thread at once. Repository operations (PutVersion,
// DeleteVersion, PutConfig, LoadModel, UnloadModel) block while models load, for seconds: callers keep them off
// I/O threads. Infer never blocks on the engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/server_types.h"
#include "ferry/status.h"
#include "ferry/tensor.h"

namespace ferry {

// A version picked for a request, and held: while this object lives (and while a request made with it runs), the
// version stays loaded (an UNLOADING version ends after the last one drops), so the signature below is the one
// Infer runs. Made only by Server::AcquireVersion (the implementation derives from it to keep its handle).
struct ServedVersion {
  virtual ~ServedVersion() = default;

  std::string model;
  int64_t version = 0;
  std::vector<TensorInfo> inputs;   // the model's signature, in its order
  std::vector<TensorInfo> outputs;  // likewise
};
using VersionRef = std::shared_ptr<const ServedVersion>;

struct InferRequest {
  // The version to run on, from AcquireVersion (the one the inputs were decoded against). When null, `model`,
  // `version` and `label` are resolved as AcquireVersion resolves them.
  VersionRef served;
  std::string model;
  std::optional<int64_t> version;
  std::optional<std::string> label;
  // By input name: every input of the signature (names it does not have are dropped). Tensors may alias the
  // caller's buffers (Tensor::Alias); they are released once the request ends.
  std::map<std::string, Tensor> inputs;
  // Microseconds the request may wait in the queue (a request still queued then ends with DeadlineExceeded);
  // nullopt: the model's default (config.yaml); <= 0: no limit.
  std::optional<int64_t> timeout_us;
};

// Called exactly once per queued request, on an engine thread: every output of the signature by name, or the
// error (the engine's; DeadlineExceeded for a timeout that passed in the queue; Unavailable when the version
// stopped first), and when it ran. It must not block for long: it holds an engine thread.
using InferCallback = std::function<void(Result<std::map<std::string, Tensor>> outputs, const InferTiming& timing)>;

class Server {
 public:
  virtual ~Server() = default;

  // ---- Inference

  // A version of `model`: `version` if given, else the one `label` names, else the highest AVAILABLE one.
  // REQUIRES: not both version and label.
  // Errors: InvalidArgument (both given, version < 1), NotFound (unknown model or label, a version that is not
  // served: never loaded, unloading, ended), Unavailable (LOADING, FAILED, or no version available yet).
  virtual Result<VersionRef> AcquireVersion(const std::string& model, std::optional<int64_t> version,
                                            const std::optional<std::string>& label) const = 0;

  // Queues `request`; `done` is called later, exactly once (see InferCallback). Returns an error instead, and
  // never calls `done`, when the request cannot be queued: AcquireVersion's errors (no `served`), InvalidArgument
  // (an input is missing, or it has more rows than the model's max_batch_size), ResourceExhausted (the version's
  // queue is full), Unavailable (the version is stopping or has no engine). The request holds its version until
  // `done` returns.
  virtual Status Infer(InferRequest request, InferCallback done) = 0;

  // ---- Status, metadata, statistics

  // True once started, while every model that was loaded or tried (and not explicitly unloaded) has an AVAILABLE
  // version.
  virtual bool Ready() const = 0;
  // Every known model, by name, with its versions' states.
  virtual std::vector<ModelStatus> GetStatus() const = 0;
  // One model; NotFound when unknown.
  virtual Result<ModelStatus> GetModelStatus(const std::string& model) const = 0;
  // The labels of `model`'s config (label -> version); NotFound when unknown.
  virtual Result<std::map<std::string, int64_t>> GetLabels(const std::string& model) const = 0;
  // The totals of a version. REQUIRES: `version` came from this server's AcquireVersion (otherwise only its model
  // and version are filled in).
  virtual VersionStatistics Statistics(const ServedVersion& version) const = 0;

  // ---- The model repository (each blocks until the new state is served)

  // Every model in the repository or still known to the server, by name.
  virtual std::vector<IndexEntry> Index() const = 0;
  // Clears an explicit unload, rescans and loads per the version policy. NotFound when the model is not in the
  // repository; InvalidArgument with the load error when no version is AVAILABLE afterwards.
  virtual Status LoadModel(const std::string& model) = 0;
  // Unloads every version of `model` until LoadModel (polling does not bring it back); unknown models are fine.
  virtual Status UnloadModel(const std::string& model) = 0;
  // Stores, checks and serves a new version: `body` is a raw model.onnx or a tar/tar.gz of the version directory;
  // `version` nullopt picks the next number. InvalidArgument (bad name or archive, a model that does not load or
  // is over the memory limit), AlreadyExists, ResourceExhausted (a storage limit: versions per model, repository
  // bytes), Unavailable (stopping). Nothing is left on disk after an error.
  virtual Result<UploadResult> PutVersion(const std::string& model, std::optional<int64_t> version,
                                          std::string_view body) = 0;
  // The same for an upload spooled to the file `path` (under RepositoryPath(), so it can be moved into place),
  // which is consumed: moved into the repository or removed, success or not.
  virtual Result<UploadResult> PutVersionFile(const std::string& model, std::optional<int64_t> version,
                                              const std::string& path) = 0;
  // Unloads and removes a version. NotFound when it is not on disk.
  virtual Status DeleteVersion(const std::string& model, int64_t version) = 0;
  // The model's config.yaml as stored, or the defaults when it has none. NotFound for an unknown model.
  virtual Result<std::string> GetConfigText(const std::string& model) const = 0;
  // Validates `yaml_text` (parse, then a dry run of every AVAILABLE version under it against the limits),
  // writes it atomically and applies it. InvalidArgument with the reason (nothing written); NotFound.
  virtual Status PutConfig(const std::string& model, const std::string& yaml_text) = 0;
  // The largest config.yaml PutConfig takes, in bytes.
  virtual size_t MaxConfigBytes() const = 0;
  // The repository's root folder: uploads are spooled there (a dot name, on the same filesystem) so they are
  // renamed into place rather than copied; error messages shown to clients replace it with "<repository>".
  virtual std::string RepositoryPath() const = 0;

  // ---- Request metrics (the front end reports what it answers; GET /metrics renders them)

  // A request was handed to the front end (the in-flight gauge).
  virtual void RequestStarted() = 0;
  // ... and answered. Model and version label the series only while that version is loaded.
  virtual void RequestAnswered(const RequestRecord& record) = 0;
  // The Prometheus text exposition (content type "text/plain; version=0.0.4; charset=utf-8").
  virtual std::string RenderMetrics() const = 0;
};

}  // namespace ferry
