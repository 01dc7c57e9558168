// ModelServer: the daemon's model side, one object the HTTP front talks to. It owns the repository on disk
// (scans, uploads, deletes, config edits), the ModelManager (what is loaded) and the poll thread, and starts a
// VersionWorker for every version that loads.
//
// Repository changes are serialized by one mutex and always follow the same path: write under a dot name
// inside the repository (invisible to scans), check, publish with one rename, then rescan and reconcile. So a
// rejected upload leaves the disk and the served versions as they were, and a poll never sees half a version.
// Nothing is read or written outside the repository root: model names are checked against the name rule
// before they become path components, and archives are unpacked by UnpackVersion (which confines members).
//
// Limits (ModelServerOptions): uploads are bounded by a version count per model and a repository byte quota; every
// load is admitted against the memory and instance limits of admission.h before its instances allocate.
//
// Explicit unload (KServe repository extension): an unloaded model is left out of every snapshot until it is
// loaded again, so polling does not bring it back.
//
// Thread safety: every method is thread-safe. Repository operations block while they load (they return once
// the new state is served); handles come from manager(), which never blocks on loads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "ferry/server_types.h"
#include "ferry/status.h"
#include "registry/filesystem.h"
#include "registry/version_archive.h"
#include "server/admission.h"
#include "server/model_manager.h"
#include "server/serving_metrics.h"

namespace ferry {

struct ModelServerOptions {
  std::string repository;      // root of the model repository; must exist
  int poll_seconds = 0;        // seconds between rescans; 0: no polling
  int inference_threads = 1;   // the server's CPU thread budget, shared by every instance of every version
  Clock* clock = nullptr;      // for the schedulers; nullptr: the real clock
  UnpackLimits upload_limits;  // bounds on what an upload may unpack to (quota_bytes is set per upload)
  // Storage: an upload over either is refused with ResourceExhausted (the API answers 507) and leaves nothing.
  int64_t max_versions_per_model = 100;  // version directories one model may have, >= 1
  // Bytes of the files under the repository (sizes as listed, holes included; the dot-named working files of
  // operations in progress at its top are not counted); 0: no quota.
  uint64_t max_repository_bytes = 0;
  // Admission at load: a version over any limit is FAILED with the limit and the numbers, before its instances
  // allocate (see admission.h).
  AdmissionLimits admission;
  // Optional: replaces Model::Load (tests).
  VersionLoader loader;
  // Optional: every version state change (see ModelManagerOptions::on_event), plus `seconds` the load took
  // for AVAILABLE and FAILED (0 otherwise).
  std::function<void(const VersionEvent&, double seconds)> on_event;
  // Optional: every batch a scheduler runs (metrics), with the model and version.
  std::function<void(const std::string& model, int64_t version, const BatchRecord&)> on_batch;
  // Optional: called with each repository problem when it first appears (skipped directories, bad configs).
  std::function<void(const std::string&)> on_problem;
};

// IndexEntry and UploadResult: see ferry/server_types.h.

// The scheduler settings a model's config asks for.
SchedulerSettings SchedulerSettingsFromConfig(const ModelConfig& config);

class ModelServer {
 public:
  static Result<std::unique_ptr<ModelServer>> Create(ModelServerOptions options);
  ~ModelServer();  // Stop()
  ModelServer(const ModelServer&) = delete;
  ModelServer& operator=(const ModelServer&) = delete;

  // Scans and loads every model per its policy (returns when every load finished), then starts polling.
  // Fails only when the repository cannot be listed.
  Status Start();
  // What Start removed of operations a killed process left unfinished (staged uploads, spooled bodies, deletes,
  // half-written configs), as paths relative to the repository, for the log.
  const std::vector<std::string>& removed_leftovers() const { return removed_leftovers_; }
  // Stops polling and new repository operations, then unloads everything (in-flight requests keep their
  // versions until they answer). Idempotent.
  void Stop();

  const ModelManager& manager() const { return *manager_; }
  ServingMetrics& metrics() const { return *metrics_; }
  const std::string& repository() const { return options_.repository; }

  // True after Start, before Stop, when every model that was loaded or tried (and not explicitly unloaded)
  // has an AVAILABLE version.
  bool Ready() const;
  // Number of models with an AVAILABLE version.
  int ServedModels() const;

  // Uploads: `body` is a raw model.onnx or a tar/tar.gz of the version directory. `version` nullopt picks the
  // next number (highest version directory + 1). Errors: InvalidArgument (bad name, bad archive, the model does
  // not load: the loader's message, or its memory under the model's config.yaml exceeds max_model_memory_bytes),
  // AlreadyExists (the version directory exists), ResourceExhausted (the model has max_versions_per_model
  // versions, or the files would take the repository over max_repository_bytes: counted while unpacking, so an
  // archive bomb stops early), Unavailable (stopped). Nothing is left on disk after an error.
  Result<UploadResult> PutVersion(const std::string& model, std::optional<int64_t> version, std::string_view body);
  // The same for an upload stored in the file `path` (see UnpackVersionFile: a raw model is moved, not copied),
  // which is consumed: moved into the repository or removed, success or not.
  // REQUIRES: `path` is on the repository's filesystem for the move to apply (a copy is made otherwise).
  Result<UploadResult> PutVersionFile(const std::string& model, std::optional<int64_t> version,
                                      const std::string& path);
  // Unloads and removes a version directory. NotFound when it is not on disk.
  Status DeleteVersion(const std::string& model, int64_t version);
  // config.yaml as stored, or the defaults serialized when the model has none. NotFound for an unknown model.
  Result<std::string> GetConfigText(const std::string& model) const;
  // Validates, dry-runs, writes atomically and applies. The dry run plans every AVAILABLE version of the model
  // under the new config and checks it against the admission limits (the version's memory, the server's
  // instances and memory with the new config in place of the old), so a config that would fail at load is
  // never written. InvalidArgument with the parser's or the dry run's message (nothing written); NotFound.
  Status PutConfig(const std::string& model, const std::string& yaml_text);

  // KServe repository extension. LoadModel: clears an explicit unload, rescans, loads per policy; NotFound
  // when the model is not in the repository, InvalidArgument with the load error when no version is
  // AVAILABLE afterwards. UnloadModel: unloads every version until LoadModel; unknown models are fine.
  Status LoadModel(const std::string& model);
  Status UnloadModel(const std::string& model);
  // Every model in the repository or still known to the manager, by name.
  std::vector<IndexEntry> Index() const;

  // Scans and reconciles now (what the poll thread does).
  Status Rescan();

 private:
  explicit ModelServer(ModelServerOptions options);
  Status RescanLocked() REQUIRES(repo_mu_);
  // An upload: `unpack` writes the version's files into the staging directory it is given, within the limits.
  Result<UploadResult> PutVersionWith(const std::string& model, std::optional<int64_t> version,
                                      const std::function<Status(const std::string&, const UnpackLimits&)>& unpack);
  // Plans `model` under `settings` and checks it against max_model_memory_bytes; `what` is "m/v".
  Status CheckFootprint(const std::string& what, const Model& model, const SchedulerSettings& settings) const;
  // PutConfig's dry run: `settings` against the instance cap, and on every AVAILABLE version of `model` against
  // the memory limits and the server's totals (with these settings in place of the version's own).
  Status DryRunConfig(const std::string& model, const SchedulerSettings& settings) const REQUIRES(repo_mu_);
  void PollLoop();
  std::string ModelDir(const std::string& model) const;

  ModelServerOptions options_;
  std::unique_ptr<Filesystem> fs_;
  std::shared_ptr<ThreadBudget> budget_;
  std::shared_ptr<AdmissionLedger> ledger_;  // shared with the schedulers, whose reservations may outlive the server
  std::shared_ptr<ServingMetrics> metrics_;  // shared with the manager's callbacks, which may outlive the server
  std::unique_ptr<ModelManager> manager_;

  mutable Mutex repo_mu_;      // serializes repository changes and rescans
  mutable Mutex unloaded_mu_;  // short-held, so readiness checks never wait for a load
  std::set<std::string> unloaded_ GUARDED_BY(unloaded_mu_);
  std::set<std::string> problems_seen_ GUARDED_BY(repo_mu_);
  std::atomic<bool> started_{false};
  std::vector<std::string> removed_leftovers_;  // set by Start
  std::atomic<bool> stopping_{false};

  Mutex poll_mu_;  // for poll_wake_ only
  std::condition_variable_any poll_wake_;
  std::thread poll_thread_;
};

}  // namespace ferry
