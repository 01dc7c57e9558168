#include "server/model_server.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "registry/model_config.h"
#include "registry/repository.h"

namespace ferry {

namespace fs = std::filesystem;

namespace {

Status Unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }

// A dot name no scan looks at, unique enough for concurrent daemons on one repository.
std::string StagingName(std::string_view what) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format(".ferry-{}-{:016x}", what, rng());
}

void RemoveQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

// Writes `text` to `path` (a new file) and flushes it to disk.
Status WriteNewFile(const std::string& path, std::string_view text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Internal("cannot create {}: {}", path, std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Internal("cannot write {}: {}", path, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return Internal("cannot write {}: {}", path, std::strerror(errno));
  return Status::Ok();
}

// Makes a rename inside `dir` durable.
void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Bytes of the files under `repository`, as listed (holes included), without following symbolic links. The
// dot-named entries at its top are the working files of operations in progress (an upload's spooled body and
// staging directory, a deleted version awaiting removal): not counted, or an upload would count itself.
uint64_t RepositoryBytes(const std::string& repository) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& top : fs::directory_iterator(repository, ec)) {
    if (top.path().filename().string().rfind('.', 0) == 0) continue;
    std::error_code ignore;
    if (top.is_symlink(ignore)) continue;
    if (top.is_regular_file(ignore)) {
      total += top.file_size(ignore);
      continue;
    }
    if (!top.is_directory(ignore)) continue;
    for (fs::recursive_directory_iterator it(top.path(), ignore), end; !ignore && it != end; it.increment(ignore)) {
      std::error_code e;
      if (it->is_symlink(e) || !it->is_regular_file(e)) continue;
      const uintmax_t size = it->file_size(e);
      if (!e) total += size;
    }
  }
  return total;
}

Status CheckModelName(const std::string& model) {
  if (!IsValidModelName(model)) {
    return InvalidArgument("invalid model name \"{}\": names match [A-Za-z0-9][A-Za-z0-9_.-]{{0,127}}", model);
  }
  return Status::Ok();
}

}  // namespace

SchedulerSettings SchedulerSettingsFromConfig(const ModelConfig& config) {
  SchedulerSettings s;
  s.batching.max_batch_size = config.max_batch_size;
  s.batching.dynamic = config.dynamic_batching.has_value();
  if (config.dynamic_batching) {
    s.batching.max_queue_delay_us = config.dynamic_batching->max_queue_delay_us;
    s.batching.preferred_batch_sizes = config.dynamic_batching->preferred_batch_sizes;
  }
  s.max_queue_size = static_cast<size_t>(config.max_queue_size);
  s.default_timeout_us = config.default_timeout_us;
  s.instances = DefaultInstanceGroups();
  if (!config.instances.empty()) {
    s.instances.clear();
    for (const InstanceGroupConfig& g : config.instances) {
      InstanceGroup group;
      group.kind = g.kind;
      group.count = static_cast<int>(g.count);
      for (int64_t id : g.gpus) group.gpus.push_back(static_cast<int>(id));
      s.instances.push_back(std::move(group));
    }
  }
  return s;
}

Result<std::unique_ptr<ModelServer>> ModelServer::Create(ModelServerOptions options) {
  if (options.repository.empty()) return InvalidArgument("no model repository given");
  std::error_code ec;
  if (!fs::is_directory(options.repository, ec)) {
    return NotFound("model repository {} is not a directory", options.repository);
  }
  options.repository = fs::canonical(options.repository, ec).string();
  if (ec) return Internal("cannot resolve {}: {}", options.repository, ec.message());
  if (options.inference_threads < 1) options.inference_threads = 1;
  std::unique_ptr<ModelServer> server(new ModelServer(std::move(options)));

  FERRY_ASSIGN_OR_RETURN(server->metrics_, ServingMetrics::Create());
  ModelManagerOptions mo;
  mo.loader = server->options_.loader ? server->options_.loader : ModelFileLoader();
  ModelServer* self = server.get();
  // END events come from whichever thread drops a version's last handle, possibly after this server is gone:
  // the callback owns what it uses.
  struct Events {
    Mutex mu;
    std::map<std::string, std::chrono::steady_clock::time_point> load_started GUARDED_BY(mu);
    std::shared_ptr<ServingMetrics> metrics;
    std::function<void(const VersionEvent&, double)> on_event;
  };
  auto events = std::make_shared<Events>();
  events->metrics = server->metrics_;
  events->on_event = server->options_.on_event;
  mo.on_event = [events](const VersionEvent& e) {
    double seconds = 0;
    std::string key = fmt::format("{}/{}", e.model_name, e.version);
    {
      MutexLock lock(events->mu);
      auto now = std::chrono::steady_clock::now();
      if (e.state == VersionState::kLoading) {
        events->load_started[key] = now;
      } else if (e.state == VersionState::kAvailable || e.state == VersionState::kFailed) {
        auto it = events->load_started.find(key);
        if (it != events->load_started.end()) {
          seconds = std::chrono::duration<double>(now - it->second).count();
          events->load_started.erase(it);
        }
      }
    }
    if (e.state == VersionState::kAvailable) events->metrics->RecordLoad(e.model_name, e.version, seconds);
    if (e.state == VersionState::kEnd) events->metrics->ForgetVersion(e.model_name, e.version);
    if (events->on_event) events->on_event(e, seconds);
  };
  server->budget_ = std::make_shared<ThreadBudget>(server->options_.inference_threads);
  server->ledger_ = AdmissionLedger::Create(server->options_.admission);
  mo.start_scheduler = [self](const std::string& model, int64_t version, const std::shared_ptr<const Model>& loaded,
                              const ModelConfig& config) -> Result<std::shared_ptr<Scheduler>> {
    SchedulerOptions so;
    so.name = fmt::format("{}/{}", model, version);
    so.model = loaded;
    so.settings = SchedulerSettingsFromConfig(config);
    // Admission, before any instance allocates its arena: the version's memory, then the server's totals.
    FERRY_RETURN_IF_ERROR(ValidateSchedulerSettings(so.settings));
    FERRY_ASSIGN_OR_RETURN(Footprint footprint,
                           EstimateFootprint(*loaded, so.settings, self->options_.inference_threads));
    FERRY_RETURN_IF_ERROR(CheckVersionMemory(so.name, footprint, self->ledger_->limits()));
    FERRY_ASSIGN_OR_RETURN(AdmissionLedger::Reservation reservation, self->ledger_->Reserve(so.name, footprint));
    so.factory = SessionInstanceFactory(loaded);
    so.clock = self->options_.clock;
    so.budget = self->budget_;
    auto on_batch = self->options_.on_batch;
    std::shared_ptr<ServingMetrics> metrics = self->metrics_;
    so.on_batch = [on_batch, metrics, model, version](const BatchRecord& b) {
      metrics->RecordBatch(model, version, b.rows);
      if (on_batch) on_batch(model, version, b);
    };
    FERRY_ASSIGN_OR_RETURN(std::shared_ptr<Scheduler> scheduler, Scheduler::Create(std::move(so)));
    // The reservation lives as long as the scheduler (until the version's last handle drops): one allocation
    // holds both, and the handle the manager keeps points at the scheduler.
    struct Held {
      AdmissionLedger::Reservation reservation;  // released after the scheduler is destroyed
      std::shared_ptr<Scheduler> scheduler;
    };
    self->ledger_->Bind(reservation.id(), scheduler.get(), loaded);
    auto held = std::make_shared<Held>(Held{std::move(reservation), std::move(scheduler)});
    return std::shared_ptr<Scheduler>(held, held->scheduler.get());
  };
  mo.update_scheduler = [ledger = server->ledger_, threads = server->options_.inference_threads](
                            Scheduler& scheduler, const ModelConfig& config) -> Status {
    const SchedulerSettings settings = SchedulerSettingsFromConfig(config);
    FERRY_RETURN_IF_ERROR(ValidateSchedulerSettings(settings));
    // A hand-edited config.yaml reaches here without PutConfig's dry run: the same checks, before any instance
    // is added.
    Result<AdmissionLedger::Entry> entry = ledger->Find(&scheduler);
    if (!entry.ok()) return scheduler.Update(settings);
    FERRY_ASSIGN_OR_RETURN(Footprint footprint, EstimateFootprint(*entry->model, settings, threads));
    FERRY_RETURN_IF_ERROR(CheckVersionMemory(entry->what, footprint, ledger->limits()));
    FERRY_RETURN_IF_ERROR(ledger->Resize(&scheduler, footprint));
    Status updated = scheduler.Update(settings);
    if (!updated.ok()) (void)ledger->Resize(&scheduler, entry->footprint);
    return updated;
  };
  FERRY_ASSIGN_OR_RETURN(server->manager_, ModelManager::Create(std::move(mo)));
  FERRY_RETURN_IF_ERROR(server->metrics_->WatchManager(server->manager_.get()));
  return server;
}

ModelServer::ModelServer(ModelServerOptions options) : options_(std::move(options)), fs_(NewRealFilesystem()) {}

ModelServer::~ModelServer() { Stop(); }

std::string ModelServer::ModelDir(const std::string& model) const { return options_.repository + "/" + model; }

namespace {

// Removes what an earlier process killed mid-operation left at the top of the repository: upload staging
// directories, spooled upload bodies and deleted versions awaiting removal (all named by StagingName or the
// HTTP server's spool, ".ferry-<what>-<16 hex digits>"). Scans ignore dot names, so they only cost disk.
// True for a name StagingName made with one of `whats`.
bool IsStagingName(const std::string& name, std::initializer_list<std::string_view> whats) {
  for (std::string_view what : whats) {
    const std::string prefix = fmt::format(".ferry-{}-", what);
    const std::string_view rest = std::string_view(name).substr(std::min(name.size(), prefix.size()));
    if (name.rfind(prefix, 0) == 0 && rest.size() == 16 &&
        rest.find_first_not_of("0123456789abcdef") == std::string_view::npos) {
      return true;
    }
  }
  return false;
}

// Removes what a killed process left of its operations: staged uploads, deleted versions on their way out,
// spooled bodies (in the repository) and half-written configs (in model directories). Returns their paths,
// relative to the repository.
std::vector<std::string> RemoveLeftovers(const std::string& repository) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(repository, ec)) {
    const std::string name = entry.path().filename().string();
    if (IsStagingName(name, {"upload", "deleted", "body"})) {
      RemoveQuietly(entry.path().string());
      removed.push_back(name);
      continue;
    }
    std::error_code dec;
    if (name.empty() || name[0] == '.' || !entry.is_directory(dec) || entry.is_symlink(dec)) continue;
    for (const auto& inner : fs::directory_iterator(entry.path(), dec)) {
      const std::string inner_name = inner.path().filename().string();
      if (IsStagingName(inner_name, {"config"})) {
        RemoveQuietly(inner.path().string());
        removed.push_back(name + "/" + inner_name);
      }
    }
  }
  return removed;
}

}  // namespace

Status ModelServer::Start() {
  removed_leftovers_ = RemoveLeftovers(options_.repository);
  {
    MutexLock lock(repo_mu_);
    FERRY_RETURN_IF_ERROR(RescanLocked());
  }
  started_ = true;
  if (options_.poll_seconds > 0) poll_thread_ = std::thread([this] { PollLoop(); });
  return Status::Ok();
}

void ModelServer::Stop() {
  if (stopping_.exchange(true)) return;
  {
    MutexLock lock(poll_mu_);
    poll_wake_.notify_all();
  }
  if (poll_thread_.joinable()) poll_thread_.join();
  MutexLock lock(repo_mu_);
  manager_->UnloadAll();
}

void ModelServer::PollLoop() {
  MutexLock lock(poll_mu_);
  while (!stopping_) {
    poll_wake_.wait_for(lock, std::chrono::seconds(options_.poll_seconds), [this] { return stopping_.load(); });
    if (stopping_) break;
    lock.Unlock();
    Status s = Rescan();
    if (!s.ok() && options_.on_problem) options_.on_problem("repository poll: " + s.message());
    lock.Lock();
  }
}

Status ModelServer::Rescan() {
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  return RescanLocked();
}

Status ModelServer::RescanLocked() {
  FERRY_ASSIGN_OR_RETURN(RepositorySnapshot snapshot, ScanRepository(*fs_, options_.repository));
  for (const std::string& p : snapshot.problems) {
    if (problems_seen_.insert(p).second && options_.on_problem) options_.on_problem(p);
  }
  for (const auto& [name, entry] : snapshot.models) {
    if (!entry.valid && problems_seen_.insert(entry.error).second && options_.on_problem) {
      options_.on_problem(fmt::format("model \"{}\": {}", name, entry.error));
    }
  }
  {
    MutexLock lock(unloaded_mu_);
    for (const std::string& name : unloaded_) snapshot.models.erase(name);
  }
  manager_->Reconcile(snapshot);
  return Status::Ok();
}

bool ModelServer::Ready() const {
  if (!started_ || stopping_) return false;
  std::set<std::string> unloaded;
  {
    MutexLock lock(unloaded_mu_);
    unloaded = unloaded_;
  }
  for (const ModelStatus& m : manager_->GetStatus()) {
    if (!m.in_repository || unloaded.count(m.name) || m.versions.empty()) continue;
    bool available = std::any_of(m.versions.begin(), m.versions.end(),
                                 [](const VersionStatus& v) { return v.state == VersionState::kAvailable; });
    if (!available) return false;
  }
  return true;
}

int ModelServer::ServedModels() const {
  int n = 0;
  for (const ModelStatus& m : manager_->GetStatus()) {
    for (const VersionStatus& v : m.versions) {
      if (v.state == VersionState::kAvailable) {
        ++n;
        break;
      }
    }
  }
  return n;
}

Result<UploadResult> ModelServer::PutVersion(const std::string& model, std::optional<int64_t> version,
                                             std::string_view body) {
  if (body.empty()) return InvalidArgument("the upload is empty: send model.onnx or a .tar/.tar.gz of the version");
  return PutVersionWith(model, version, [&](const std::string& staging, const UnpackLimits& limits) {
    return UnpackVersion(body, staging, limits);
  });
}

Result<UploadResult> ModelServer::PutVersionFile(const std::string& model, std::optional<int64_t> version,
                                                 const std::string& path) {
  Result<UploadResult> result = PutVersionWith(
      model, version,
      [&](const std::string& staging, const UnpackLimits& limits) { return UnpackVersionFile(path, staging, limits); });
  // The upload is consumed either way: a refused one leaves nothing in the repository by the time it is answered.
  RemoveQuietly(path);
  return result;
}

Result<UploadResult> ModelServer::PutVersionWith(
    const std::string& model, std::optional<int64_t> version,
    const std::function<Status(const std::string&, const UnpackLimits&)>& unpack) {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  if (version && *version < 1) return InvalidArgument("version must be a positive integer, got {}", *version);
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  const std::string model_dir = ModelDir(model);
  std::error_code ec;
  int64_t highest = 0;
  int64_t versions = 0;
  if (fs::is_directory(model_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(model_dir, ec)) {
      std::optional<int64_t> v = ParseVersionDirName(entry.path().filename().string());
      if (!v) continue;
      highest = std::max(highest, *v);
      ++versions;
    }
  }
  if (!version) {
    if (highest == std::numeric_limits<int64_t>::max()) return InvalidArgument("no version number is left");
    version = highest + 1;
  }
  const std::string version_dir = fmt::format("{}/{}", model_dir, *version);
  if (fs::exists(fs::symlink_status(version_dir, ec))) {
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("version {} of model \"{}\" already exists", *version, model));
  }
  if (versions >= options_.max_versions_per_model) {
    return ResourceExhausted(
        "model \"{}\" has {} versions, the most max_versions_per_model = {} allows: delete one first", model, versions,
        options_.max_versions_per_model);
  }
  UnpackLimits limits = options_.upload_limits;
  if (options_.max_repository_bytes > 0) {
    const uint64_t used = RepositoryBytes(options_.repository);
    if (used >= options_.max_repository_bytes) {
      return ResourceExhausted("the repository holds {} bytes, its quota max_repository_bytes = {} is used up", used,
                               options_.max_repository_bytes);
    }
    limits.quota_bytes = options_.max_repository_bytes - used;
  }

  // Stage at the top of the repository under a dot name: scans ignore it, and the rename below stays on one
  // filesystem.
  const std::string staging = options_.repository + "/" + StagingName("upload");
  if (!fs::create_directory(staging, ec)) return Internal("cannot create {}: {}", staging, ec.message());
  auto fail = [&](Status s) {
    RemoveQuietly(staging);
    return s;
  };
  Status unpacked = unpack(staging, limits);
  if (unpacked.code() == StatusCode::kResourceExhausted) {
    return fail(ResourceExhausted("max_repository_bytes = {}: {}", options_.max_repository_bytes, unpacked.message()));
  }
  if (!unpacked.ok()) return fail(unpacked);
  {
    // The upload is checked by loading it before it is published, and by planning it under the model's
    // config.yaml (when that parses) against the version memory limit.
    VersionLoader check = options_.loader ? options_.loader : ModelFileLoader();
    Result<std::shared_ptr<const Model>> loaded = check(model, *version, staging + "/" + kModelFileName);
    if (!loaded.ok()) {
      return fail(InvalidArgument("the model does not load: {}", loaded.status().message()));
    }
    ModelConfig config;
    const std::string config_path = model_dir + "/" + kModelConfigFileName;
    if (fs_->Exists(config_path)) {
      Result<std::string> text = fs_->ReadFile(config_path, 1 << 20);
      Result<ModelConfig> parsed = text.ok() ? ParseModelConfig(*text) : Result<ModelConfig>(text.status());
      if (parsed.ok()) config = std::move(parsed).value();
    }
    Status fits = CheckFootprint(fmt::format("{}/{}", model, *version), **loaded, SchedulerSettingsFromConfig(config));
    if (!fits.ok()) return fail(InvalidArgument("the model cannot be served: {}", fits.message()));
  }
  bool created_model_dir = false;
  if (!fs::is_directory(model_dir, ec)) {
    if (!fs::create_directory(model_dir, ec)) return fail(Internal("cannot create {}: {}", model_dir, ec.message()));
    created_model_dir = true;
  }
  fs::rename(staging, version_dir, ec);
  if (ec) {
    if (created_model_dir) RemoveQuietly(model_dir);
    return fail(Internal("cannot publish {}: {}", version_dir, ec.message()));
  }
  SyncDir(model_dir);
  if (created_model_dir) SyncDir(options_.repository);
  {
    MutexLock ulock(unloaded_mu_);
    unloaded_.erase(model);  // an upload is an explicit wish to serve the model
  }
  FERRY_RETURN_IF_ERROR(RescanLocked());

  UploadResult result;
  result.version = *version;
  Result<ModelStatus> status = manager_->GetModelStatus(model);
  if (status.ok()) {
    for (const VersionStatus& v : status->versions) {
      if (v.version != *version) continue;
      result.served = true;
      result.state = v.state;
      result.error = v.error;
    }
  }
  return result;
}

Status ModelServer::DeleteVersion(const std::string& model, int64_t version) {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  const std::string version_dir = fmt::format("{}/{}", ModelDir(model), version);
  std::error_code ec;
  if (version < 1 || !fs::is_directory(fs::symlink_status(version_dir, ec))) {
    return NotFound("version {} of model \"{}\" not found", version, model);
  }
  // Out of sight first (one rename), then unload, then delete the files.
  const std::string trash = options_.repository + "/" + StagingName("deleted");
  fs::rename(version_dir, trash, ec);
  if (ec) return Internal("cannot remove {}: {}", version_dir, ec.message());
  Status s = RescanLocked();
  RemoveQuietly(trash);
  return s;
}

Result<std::string> ModelServer::GetConfigText(const std::string& model) const {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  std::error_code ec;
  if (!fs::is_directory(ModelDir(model), ec)) return NotFound("model \"{}\" not found", model);
  const std::string path = ModelDir(model) + "/" + kModelConfigFileName;
  if (!fs_->Exists(path)) return SerializeModelConfig(ModelConfig{});
  return fs_->ReadFile(path, 1 << 20);
}

Status ModelServer::PutConfig(const std::string& model, const std::string& yaml_text) {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  Result<ModelConfig> parsed = ParseModelConfig(yaml_text);
  if (!parsed.ok()) return InvalidArgument("invalid config.yaml: {}", parsed.status().message());
  Status usable = ValidateSchedulerSettings(SchedulerSettingsFromConfig(*parsed));
  if (!usable.ok()) return Status(usable.code(), "invalid config.yaml: " + usable.message());
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  const std::string model_dir = ModelDir(model);
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec)) return NotFound("model \"{}\" not found", model);
  Status dry_run = DryRunConfig(model, SchedulerSettingsFromConfig(*parsed));
  if (!dry_run.ok()) return InvalidArgument("config.yaml refused by a dry run: {}", dry_run.message());
  const std::string tmp = model_dir + "/" + StagingName("config");
  Status written = WriteNewFile(tmp, yaml_text);
  if (!written.ok()) {
    RemoveQuietly(tmp);
    return written;
  }
  fs::rename(tmp, model_dir + "/" + kModelConfigFileName, ec);
  if (ec) {
    RemoveQuietly(tmp);
    return Internal("cannot replace config.yaml of \"{}\": {}", model, ec.message());
  }
  SyncDir(model_dir);
  return RescanLocked();
}

Status ModelServer::CheckFootprint(const std::string& what, const Model& model,
                                   const SchedulerSettings& settings) const {
  FERRY_ASSIGN_OR_RETURN(Footprint footprint, EstimateFootprint(model, settings, options_.inference_threads));
  return CheckVersionMemory(what, footprint, ledger_->limits());
}

Status ModelServer::DryRunConfig(const std::string& model, const SchedulerSettings& settings) const {
  const AdmissionLimits& limits = ledger_->limits();
  int64_t instances = 0;
  for (const InstanceGroup& g : settings.instances) instances += g.count;
  if (instances > limits.max_total_instances) {
    return ResourceExhausted("{} instances, over max_total_instances = {}", instances, limits.max_total_instances);
  }
  Result<ModelStatus> status = manager_->GetModelStatus(model);
  if (!status.ok()) return Status::Ok();  // nothing loaded to try it on
  std::vector<std::pair<const void*, Footprint>> changes;
  for (const VersionStatus& v : status->versions) {
    if (v.state != VersionState::kAvailable) continue;
    Result<VersionHandle> handle = manager_->Acquire(model, v.version);
    if (!handle.ok()) continue;  // unloaded meanwhile
    const std::string what = fmt::format("{}/{}", model, v.version);
    Result<Footprint> footprint = EstimateFootprint(*(*handle)->model, settings, options_.inference_threads);
    if (!footprint.ok()) return footprint.status().WithContext(what);
    FERRY_RETURN_IF_ERROR(CheckVersionMemory(what, *footprint, limits));
    if ((*handle)->scheduler) changes.emplace_back((*handle)->scheduler.get(), *footprint);
  }
  return ledger_->CheckChange(changes);
}

Status ModelServer::LoadModel(const std::string& model) {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  std::error_code ec;
  if (!fs::is_directory(ModelDir(model), ec)) return NotFound("model \"{}\" is not in the repository", model);
  {
    MutexLock ulock(unloaded_mu_);
    unloaded_.erase(model);
  }
  FERRY_RETURN_IF_ERROR(RescanLocked());
  Result<ModelStatus> status = manager_->GetModelStatus(model);
  if (!status.ok()) return NotFound("model \"{}\" has no versions in the repository", model);
  std::string errors;
  for (const VersionStatus& v : status->versions) {
    if (v.state == VersionState::kAvailable) return Status::Ok();
    if (v.state == VersionState::kFailed) errors += fmt::format("; version {}: {}", v.version, v.error);
  }
  if (!status->error.empty()) errors += "; " + status->error;
  if (errors.empty()) errors = "; no version is on disk";
  return InvalidArgument("load failed for model '{}'{}", model, errors);
}

Status ModelServer::UnloadModel(const std::string& model) {
  FERRY_RETURN_IF_ERROR(CheckModelName(model));
  MutexLock lock(repo_mu_);
  if (stopping_) return Unavailable("the server is shutting down");
  {
    MutexLock ulock(unloaded_mu_);
    unloaded_.insert(model);
  }
  return RescanLocked();
}

std::vector<IndexEntry> ModelServer::Index() const {
  std::map<std::string, std::vector<IndexEntry>> rows;
  Result<RepositorySnapshot> snapshot = ScanRepository(*fs_, options_.repository);
  if (snapshot.ok()) {
    for (const auto& [name, entry] : snapshot->models) rows[name];
  }
  std::set<std::string> unloaded;
  {
    MutexLock lock(unloaded_mu_);
    unloaded = unloaded_;
  }
  for (const ModelStatus& m : manager_->GetStatus()) {
    for (const VersionStatus& v : m.versions) {
      IndexEntry e{m.name, v.version, "", ""};
      switch (v.state) {
        case VersionState::kLoading:
          e.state = "LOADING";
          break;
        case VersionState::kAvailable:
          e.state = "READY";
          break;
        case VersionState::kUnloading:
          e.state = "UNLOADING";
          break;
        case VersionState::kEnd:
          e.state = "UNAVAILABLE";
          e.reason = unloaded.count(m.name) ? "unloaded" : "unloaded (no longer selected)";
          break;
        case VersionState::kFailed:
          e.state = "UNAVAILABLE";
          e.reason = v.error;
          break;
      }
      rows[m.name].push_back(std::move(e));
    }
  }
  std::vector<IndexEntry> out;
  for (auto& [name, entries] : rows) {
    if (entries.empty()) {
      IndexEntry e{name, std::nullopt, "", ""};
      if (unloaded.count(name)) {
        e.state = "UNAVAILABLE";
        e.reason = "unloaded";
      }
      out.push_back(std::move(e));
    }
    for (IndexEntry& e : entries) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace ferry
