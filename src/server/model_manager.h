// ModelManager: makes the served model versions match what the repository and version policies ask for
// (TF Serving's AspiredVersionsManager), and hands requests ref-counted handles to the versions it serves.
//
// Desired state vs. reconciliation: a RepositorySnapshot plus each model's VersionPolicy says which versions
// should be served (DesiredVersions); Reconcile loads and unloads to match. Every version has one explicit
// state:
//
//   LOADING --ok--> AVAILABLE --no longer desired--> UNLOADING --last handle dropped--> END
//      \--error--> FAILED (with the loader's message; not retried while the version stays on disk)
//
// Rules Reconcile keeps:
//  - New before old: desired versions are loaded first; a version that is no longer desired starts
//    UNLOADING only once some desired version of its model is AVAILABLE (or nothing is desired any more:
//    the model or version was removed). So a failed load leaves the serving version in place.
//  - A model whose config.yaml is invalid keeps serving what it serves; its error shows in GetStatus().
//  - A model that left the repository unloads all its versions; Acquire then answers NotFound.
//  - A version that was UNLOADING, END or removed and is desired again is loaded afresh.
//  - A FAILED version is forgotten once it is no longer desired (so deleting and re-uploading retries it).
//  - Ended versions leave bounded traces: the status keeps the END entries of a model's last
//    ModelManagerOptions::max_ended_versions (default 4) versions to end and forgets older ones. FAILED entries
//    stay only while their version is on disk (see above), so the repository's version quota bounds them.
//
// Loads run synchronously inside Reconcile, one after the other, on the caller's thread, without the
// manager's lock held: Acquire and GetStatus keep working (and keep returning the old version) while a load
// runs. Reconcile calls are serialized. A later change can move loads to a thread pool without changing
// this interface.
//
// Handles: Acquire returns a VersionHandle (shared_ptr<const ModelVersion>). A request holds it from enqueue
// to reply; a version in UNLOADING reaches END when its last handle drops (on whichever thread drops it) and
// the Model's memory is freed then. Handles may outlive the manager.
//
// Thread safety: every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "ferry/server_types.h"
#include "ferry/status.h"
#include "graph/model.h"
#include "registry/repository.h"
#include "scheduler/scheduler.h"

namespace ferry {

// VersionState, VersionStateName, VersionStatus and ModelStatus are the public ones (ferry/server_types.h): the
// server facade hands them out as they are.

// A served version. Immutable; what a VersionHandle points at.
struct ModelVersion {
  std::string model_name;
  int64_t version = 0;
  std::shared_ptr<const Model> model;  // never null
  // Runs this version's requests; null when the manager was created without ModelManagerOptions::start_scheduler.
  std::shared_ptr<Scheduler> scheduler;
};

// Keeps its version loaded while held (an UNLOADING version reaches END after its last handle drops).
using VersionHandle = std::shared_ptr<const ModelVersion>;

// The seam through which versions are loaded: (model name, version, path of model.onnx) -> Model. May block
// for as long as a load takes; called without the manager's lock, from the thread that calls Reconcile.
// Tests pass fakes that build a Model in memory, fail, or block until released.
using VersionLoader = std::function<Result<std::shared_ptr<const Model>>(const std::string& model, int64_t version,
                                                                         const std::string& path)>;

// The production loader: Model::Load(path, options).
VersionLoader ModelFileLoader(ModelOptions options = {});

// One state change, for logging ("model m version 2 AVAILABLE") and for tests that check ordering.
struct VersionEvent {
  std::string model_name;
  int64_t version = 0;
  VersionState state = VersionState::kLoading;
  std::string error;  // kFailed only
};

struct ModelManagerOptions {
  // Required.
  VersionLoader loader;
  // Optional. Called for every state change, in order per version, with the manager's lock held and on
  // whichever thread caused the change (END: the thread that dropped the last handle). It must be quick and
  // must not call back into the manager.
  std::function<void(const VersionEvent&)> on_event;
  // Optional. Starts the scheduler of a version that loaded, before it becomes AVAILABLE (an error makes the
  // version FAILED). Called like the loader: without the lock, on the Reconcile thread.
  std::function<Result<std::shared_ptr<Scheduler>>(
      const std::string& model, int64_t version, const std::shared_ptr<const Model>& loaded, const ModelConfig& config)>
      start_scheduler;
  // Optional. Applies a changed config.yaml to the scheduler of a version that stays AVAILABLE (runtime tuning:
  // no reload). Called after the loads of a Reconcile, without the lock. An error is kept as the model's error.
  std::function<Status(Scheduler& scheduler, const ModelConfig& config)> update_scheduler;
  // END entries kept per model in GetStatus(), the most recent to end (default 4); older ones are forgotten,
  // so uploading and deleting versions forever does not grow the status.
  size_t max_ended_versions = 4;
};

class ModelManager {
 public:
  // InvalidArgument when options.loader is empty.
  static Result<std::unique_ptr<ModelManager>> Create(ModelManagerOptions options);
  // Handles already given out stay valid; versions still loaded are released with the last handle.
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Loads and unloads to match `snapshot` (see the rules above). Returns once every load it started has
  // finished (AVAILABLE or FAILED) and every unload has started; unloads finish as handles drop.
  void Reconcile(const RepositorySnapshot& snapshot);

  // Unloads everything (as Reconcile of an empty repository), e.g. at shutdown.
  void UnloadAll();

  // Waits until no version is UNLOADING (every in-flight handle of an unloaded version was dropped) or
  // `timeout` passes. True when none is left. For shutdown and tests.
  bool WaitForUnloads(std::chrono::milliseconds timeout);

  // A handle to an AVAILABLE version of `model`: `version` if given, else the version `label` names, else the
  // highest AVAILABLE version. REQUIRES: not both version and label.
  // Errors: InvalidArgument (both given, version < 1), NotFound (unknown model, label, or version that is not
  // served: never loaded, unloading, ended), Unavailable (LOADING, FAILED, or no version available yet).
  Result<VersionHandle> Acquire(const std::string& model, std::optional<int64_t> version = std::nullopt,
                                const std::optional<std::string>& label = std::nullopt) const;

  // Every known model, by name, with its versions' states.
  std::vector<ModelStatus> GetStatus() const;
  // One model; NotFound when unknown.
  Result<ModelStatus> GetModelStatus(const std::string& model) const;

  // The labels of `model`'s current config (label -> version); NotFound when unknown.
  Result<std::map<std::string, int64_t>> GetLabels(const std::string& model) const;

 private:
  struct State;
  struct VersionRecord;
  struct ModelRecord;
  struct HandleReleaser;

  explicit ModelManager(ModelManagerOptions options);

  VersionLoader loader_;
  std::function<Result<std::shared_ptr<Scheduler>>(const std::string&, int64_t, const std::shared_ptr<const Model>&,
                                                   const ModelConfig&)>
      start_scheduler_;
  std::function<Status(Scheduler&, const ModelConfig&)> update_scheduler_;
  // Shared with the deleters of outstanding handles, so handles may outlive the manager.
  std::shared_ptr<State> state_;
  // Serializes Reconcile: a load in progress must not be started twice.
  Mutex reconcile_mu_;
};

}  // namespace ferry
