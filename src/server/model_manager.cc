#include "server/model_manager.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <set>
#include <utility>

#include "common/thread_annotations.h"

namespace ferry {

namespace {

template <typename... Args>
Status Unavailable(fmt::format_string<Args...> f, Args&&... args) {
  return Status(StatusCode::kUnavailable, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace

VersionLoader ModelFileLoader(ModelOptions options) {
  return [options](const std::string&, int64_t, const std::string& path) -> Result<std::shared_ptr<const Model>> {
    try {
      return Model::Load(path, options);
    } catch (const std::bad_alloc&) {
      return Status(StatusCode::kResourceExhausted, "out of memory while loading the model");
    } catch (const std::exception& e) {
      return Internal("loading the model failed: {}", e.what());
    }
  };
}

// One version's record. model_name and version are fixed before the record is published; every other field
// is guarded by State::mu (the analysis cannot name it from here). Held by
// shared_ptr so that a handle's deleter finds its own record even after the map entry was replaced (a version
// unloading while it is loaded afresh).
struct ModelManager::VersionRecord {
  std::string model_name;
  int64_t version = 0;
  VersionState state = VersionState::kLoading;
  std::string error;
  std::shared_ptr<const Model> model;    // AVAILABLE only
  std::shared_ptr<Scheduler> scheduler;  // AVAILABLE only (when schedulers are started)
  int64_t handles = 0;                   // outstanding VersionHandles
  uint64_t ended = 0;                    // END: when it ended, in State::ends order
};

struct ModelManager::ModelRecord {
  bool in_repository = true;
  ModelConfig config;
  std::string error;
  std::map<int64_t, std::shared_ptr<VersionRecord>> versions;
};

struct ModelManager::State {
  Mutex mu;
  std::condition_variable_any unloads_done;  // signalled when `unloading` drops to 0
  std::map<std::string, ModelRecord> models GUARDED_BY(mu);
  int64_t unloading GUARDED_BY(mu) = 0;  // records in UNLOADING
  uint64_t ends GUARDED_BY(mu) = 0;      // versions that reached END so far
  size_t max_ended_versions = 4;
  std::function<void(const VersionEvent&)> on_event;

  void SetState(VersionRecord& r, VersionState s) REQUIRES(mu) {
    r.state = s;
    if (s == VersionState::kEnd) r.ended = ++ends;
    if (on_event) on_event(VersionEvent{r.model_name, r.version, s, s == VersionState::kFailed ? r.error : ""});
  }

  // Forgets the END records of `rec` beyond the max_ended_versions that ended last.
  void TrimEnded(ModelRecord& rec) REQUIRES(mu) {
    std::vector<std::pair<uint64_t, int64_t>> ended;  // (when, version)
    for (const auto& [v, r] : rec.versions)
      if (r->state == VersionState::kEnd) ended.emplace_back(r->ended, v);
    if (ended.size() <= max_ended_versions) return;
    std::sort(ended.begin(), ended.end());
    for (size_t i = 0; i + max_ended_versions < ended.size(); ++i) rec.versions.erase(ended[i].second);
  }

  // Moves an AVAILABLE record to UNLOADING, and on to END when no handle is out. The Model goes to `garbage`
  // so that it is destroyed after the lock is released.
  void StartUnload(VersionRecord& r, std::vector<std::shared_ptr<const void>>& garbage) REQUIRES(mu) {
    garbage.push_back(std::move(r.model));
    garbage.push_back(std::move(r.scheduler));
    r.model.reset();
    r.scheduler.reset();
    SetState(r, VersionState::kUnloading);
    if (r.handles == 0) {
      SetState(r, VersionState::kEnd);
    } else {
      ++unloading;
    }
  }
};

// The deleter of every VersionHandle: counts the handle back in and finishes an unload on the last one.
struct ModelManager::HandleReleaser {
  std::shared_ptr<State> state;
  std::shared_ptr<VersionRecord> record;

  void operator()(const ModelVersion* v) const {
    {
      MutexLock lock(state->mu);
      --record->handles;
      if (record->handles == 0 && record->state == VersionState::kUnloading) {
        state->SetState(*record, VersionState::kEnd);
        if (--state->unloading == 0) state->unloads_done.notify_all();
        auto it = state->models.find(record->model_name);
        if (it != state->models.end()) state->TrimEnded(it->second);
      }
    }
    delete v;  // may free the Model; outside the lock
  }
};

Result<std::unique_ptr<ModelManager>> ModelManager::Create(ModelManagerOptions options) {
  if (!options.loader) return InvalidArgument("ModelManager needs a loader");
  return std::unique_ptr<ModelManager>(new ModelManager(std::move(options)));
}

ModelManager::ModelManager(ModelManagerOptions options)
    : loader_(std::move(options.loader)),
      start_scheduler_(std::move(options.start_scheduler)),
      update_scheduler_(std::move(options.update_scheduler)),
      state_(std::make_shared<State>()) {
  state_->on_event = std::move(options.on_event);
  state_->max_ended_versions = options.max_ended_versions;
}

ModelManager::~ModelManager() = default;

void ModelManager::Reconcile(const RepositorySnapshot& snapshot) {
  MutexLock reconcile_lock(reconcile_mu_);
  State& st = *state_;
  // Per model in the table: the versions to keep, or nullopt to leave the model alone (invalid config).
  std::map<std::string, std::optional<std::set<int64_t>>> desired;
  struct Load {
    std::shared_ptr<VersionRecord> record;
    std::string path;
    ModelConfig config;
  };
  std::vector<Load> loads;
  struct Retune {
    std::string model;
    std::shared_ptr<Scheduler> scheduler;
    ModelConfig config;
  };
  std::vector<Retune> retunes;

  // 1. Record the desired state and create LOADING records for what must be loaded.
  {
    MutexLock lock(st.mu);
    for (auto& [name, rec] : st.models) {
      if (!snapshot.models.count(name)) {
        rec.in_repository = false;
        desired[name] = std::set<int64_t>();
      }
    }
    for (const auto& [name, entry] : snapshot.models) {
      ModelRecord& rec = st.models[name];
      rec.in_repository = true;
      if (!entry.valid) {
        rec.error = entry.error;
        desired[name] = std::nullopt;
        continue;
      }
      rec.error.clear();
      if (!(rec.config == entry.config)) {
        for (const auto& [v, r] : rec.versions) {
          if (r->state == VersionState::kAvailable && r->scheduler)
            retunes.push_back(Retune{name, r->scheduler, entry.config});
        }
      }
      rec.config = entry.config;
      std::vector<int64_t> want = DesiredVersions(entry.config.version_policy, entry.versions);
      desired[name] = std::set<int64_t>(want.begin(), want.end());
      for (int64_t v : want) {
        auto it = rec.versions.find(v);
        if (it != rec.versions.end() &&
            (it->second->state == VersionState::kAvailable || it->second->state == VersionState::kFailed)) {
          continue;  // served already, or failed and not retried while it stays on disk
        }
        auto r = std::make_shared<VersionRecord>();
        r->model_name = name;
        r->version = v;
        rec.versions[v] = r;
        st.SetState(*r, VersionState::kLoading);
        loads.push_back(Load{r, entry.ModelPath(v), entry.config});
      }
    }
  }

  // 2. Load, without the lock: Acquire keeps serving the old versions meanwhile.
  for (Load& load : loads) {
    Result<std::shared_ptr<const Model>> model = Internal("not loaded");
    std::shared_ptr<Scheduler> scheduler;
    // The boundary where a loader's or an instance's exception (an allocation a hostile model sized) becomes the
    // version's error instead of ending the process.
    try {
      model = loader_(load.record->model_name, load.record->version, load.path);
      if (model.ok() && *model == nullptr) model = Internal("the loader returned no model");
      if (model.ok() && start_scheduler_) {
        Result<std::shared_ptr<Scheduler>> started =
            start_scheduler_(load.record->model_name, load.record->version, *model, load.config);
        if (started.ok()) {
          scheduler = std::move(*started);
        } else {
          model = started.status();
        }
      }
    } catch (const std::bad_alloc&) {
      scheduler.reset();
      model = Status(StatusCode::kResourceExhausted, "out of memory while loading the version");
    } catch (const std::exception& e) {
      scheduler.reset();
      model = Internal("loading the version failed: {}", e.what());
    }
    MutexLock lock(st.mu);
    if (model.ok()) {
      load.record->model = std::move(*model);
      load.record->scheduler = std::move(scheduler);
      st.SetState(*load.record, VersionState::kAvailable);
    } else {
      load.record->error = model.status().ToString();
      st.SetState(*load.record, VersionState::kFailed);
    }
  }

  // 2b. Runtime tuning: a changed config reaches the schedulers of versions that stay loaded.
  for (Retune& r : retunes) {
    Status s = update_scheduler_ ? update_scheduler_(*r.scheduler, r.config) : Status::Ok();
    if (!s.ok()) {
      MutexLock lock(st.mu);
      st.models[r.model].error = "config.yaml could not be applied: " + s.message();
    }
  }
  retunes.clear();

  // 3. Unload what is no longer desired, once a desired version serves in its place.
  std::vector<std::shared_ptr<const void>> garbage;
  {
    MutexLock lock(st.mu);
    for (auto& [name, want] : desired) {
      if (!want) continue;
      ModelRecord& rec = st.models[name];
      bool replacement_available = false;
      for (int64_t v : *want) {
        auto it = rec.versions.find(v);
        if (it != rec.versions.end() && it->second->state == VersionState::kAvailable) replacement_available = true;
      }
      for (auto it = rec.versions.begin(); it != rec.versions.end();) {
        VersionRecord& r = *it->second;
        if (want->count(it->first)) {
          ++it;
          continue;
        }
        if (r.state == VersionState::kFailed) {
          it = rec.versions.erase(it);
          continue;
        }
        if (r.state == VersionState::kAvailable && (want->empty() || replacement_available)) {
          st.StartUnload(r, garbage);
        }
        ++it;
      }
      st.TrimEnded(rec);
    }
    // Forget models that left the repository once nothing of them is left but ended versions.
    for (auto it = st.models.begin(); it != st.models.end();) {
      bool all_ended = std::all_of(it->second.versions.begin(), it->second.versions.end(),
                                   [](const auto& kv) { return kv.second->state == VersionState::kEnd; });
      if (!it->second.in_repository && all_ended) {
        it = st.models.erase(it);
      } else {
        ++it;
      }
    }
  }
  garbage.clear();  // Models without handles are destroyed here, outside the lock
}

void ModelManager::UnloadAll() { Reconcile(RepositorySnapshot{}); }

bool ModelManager::WaitForUnloads(std::chrono::milliseconds timeout) {
  State& st = *state_;
  MutexLock lock(st.mu);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (st.unloading > 0) {
    if (st.unloads_done.wait_until(lock, deadline) == std::cv_status::timeout) return st.unloading == 0;
  }
  return true;
}

Result<VersionHandle> ModelManager::Acquire(const std::string& model, std::optional<int64_t> version,
                                            const std::optional<std::string>& label) const {
  if (version && label) return InvalidArgument("give a version or a label, not both");
  if (version && *version < 1) return InvalidArgument("version must be a positive integer, got {}", *version);
  State& st = *state_;
  std::shared_ptr<VersionRecord> chosen;
  std::shared_ptr<const Model> loaded;
  std::shared_ptr<Scheduler> scheduler;
  {
    MutexLock lock(st.mu);
    auto mit = st.models.find(model);
    if (mit == st.models.end() || !mit->second.in_repository) return NotFound("model \"{}\" not found", model);
    const ModelRecord& rec = mit->second;
    if (label) {
      auto lit = rec.config.labels.find(*label);
      if (lit == rec.config.labels.end()) return NotFound("label \"{}\" of model \"{}\" not found", *label, model);
      version = lit->second;
    }
    if (version) {
      auto vit = rec.versions.find(*version);
      if (vit == rec.versions.end()) return NotFound("version {} of model \"{}\" not found", *version, model);
      const VersionRecord& r = *vit->second;
      switch (r.state) {
        case VersionState::kAvailable:
          chosen = vit->second;
          break;
        case VersionState::kLoading:
          return Unavailable("version {} of model \"{}\" is still loading", *version, model);
        case VersionState::kFailed:
          return Unavailable("version {} of model \"{}\" failed to load: {}", *version, model, r.error);
        case VersionState::kUnloading:
        case VersionState::kEnd:
          return NotFound("version {} of model \"{}\" is not served any more", *version, model);
      }
    } else {
      for (auto it = rec.versions.rbegin(); it != rec.versions.rend() && !chosen; ++it) {
        if (it->second->state == VersionState::kAvailable) chosen = it->second;
      }
      if (!chosen) {
        std::string why;
        for (const auto& [v, r] : rec.versions) {
          if (r->state == VersionState::kLoading) why += fmt::format("; version {} is loading", v);
          if (r->state == VersionState::kFailed) why += fmt::format("; version {} failed: {}", v, r->error);
        }
        if (!rec.error.empty()) why += "; " + rec.error;
        if (why.empty()) why = "; no version is served";
        return Unavailable("model \"{}\" has no available version{}", model, why);
      }
    }
    ++chosen->handles;
    // Copied under the lock: an unload moves the record's model out.
    loaded = chosen->model;
    scheduler = chosen->scheduler;
  }
  auto* v = new ModelVersion{chosen->model_name, chosen->version, std::move(loaded), std::move(scheduler)};
  return VersionHandle(v, HandleReleaser{state_, std::move(chosen)});
}

namespace {

ModelStatus Describe(const std::string& name, const auto& rec) {
  ModelStatus s{name, rec.in_repository, rec.error, {}};
  for (const auto& [v, r] : rec.versions) s.versions.push_back(VersionStatus{v, r->state, r->error});
  return s;
}

}  // namespace

std::vector<ModelStatus> ModelManager::GetStatus() const {
  State& st = *state_;
  MutexLock lock(st.mu);
  std::vector<ModelStatus> out;
  for (const auto& [name, rec] : st.models) out.push_back(Describe(name, rec));
  return out;
}

Result<ModelStatus> ModelManager::GetModelStatus(const std::string& model) const {
  State& st = *state_;
  MutexLock lock(st.mu);
  auto it = st.models.find(model);
  if (it == st.models.end()) return NotFound("model \"{}\" not found", model);
  return Describe(model, it->second);
}

Result<std::map<std::string, int64_t>> ModelManager::GetLabels(const std::string& model) const {
  State& st = *state_;
  MutexLock lock(st.mu);
  auto it = st.models.find(model);
  if (it == st.models.end()) return NotFound("model \"{}\" not found", model);
  return it->second.config.labels;
}

}  // namespace ferry
