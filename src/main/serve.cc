#include "main/serve.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/rest_api.h"
#include "auth/token_set.h"
#include "backends/device_registry.h"
#include "common/thread_annotations.h"
#include "http/http_server.h"
#include "main/daemon_config.h"
#include "server/model_server.h"
#include "server/server_facade.h"

namespace ferry {

namespace {

constexpr const char* kFerryVersion = "0.1.0";

// Text for a log line: control characters and backslashes escaped (\n, \t, \x1b, \\), so a client cannot forge or
// hide lines (a path with %0a decodes to a newline). With quote, a value holding a space, '"' or '=' is quoted.
std::string EscapeLogText(std::string_view text, bool quote) {
  const bool quoted = quote && text.find_first_of(" \"=") != std::string_view::npos;
  std::string out;
  out.reserve(text.size() + 2);
  if (quoted) out += '"';
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\\' || (quoted && c == '"')) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  if (quoted) out += '"';
  return out;
}

// Log lines: "message key=value ..." in text, one JSON object per line in json (where the JSON encoder escapes).
class EventLog {
 public:
  explicit EventLog(bool json) : json_(json) {}

  void Write(spdlog::level::level_enum level, const std::string& message,
             const std::vector<std::pair<std::string, nlohmann::json>>& fields = {}) const {
    if (!spdlog::should_log(level)) return;
    if (json_) {
      nlohmann::ordered_json j;
      j["msg"] = message;
      for (const auto& [k, v] : fields) j[k] = v;
      std::string text = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      // The pattern opens the object with time and level; continue it.
      spdlog::log(level, "{}", text.substr(1, text.size() - 2));
    } else {
      std::string text = EscapeLogText(message, /*quote=*/false);
      for (const auto& [k, v] : fields) {
        text += " " + k + "=" +
                EscapeLogText(v.is_string() ? v.get<std::string>()
                                            : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                              /*quote=*/true);
      }
      spdlog::log(level, "{}", text);
    }
  }

 private:
  bool json_;
};

void SetUpLogging(const DaemonConfig& config) {
  auto logger = spdlog::stderr_logger_mt("ferryd");
  spdlog::set_default_logger(logger);
  if (config.log_format == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  // Access lines are buffered and written once a second (one write() per request costs the instance threads
  // that answer; bench/RESULTS.md); warnings and errors are written at once.
  std::setvbuf(stderr, nullptr, _IOFBF, 1 << 16);
  spdlog::flush_on(spdlog::level::warn);
  spdlog::flush_every(std::chrono::seconds(1));
}

int CoreCount() { return std::max(1u, std::thread::hardware_concurrency()); }

// The open-files limit, raised from the soft to the hard limit first (as nginx's worker_rlimit_nofile and Go's
// runtime do): every connection is a descriptor.
uint64_t RaiseOpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = std::min<rlim_t>(limit.rlim_max, 1 << 20);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return limit.rlim_cur == RLIM_INFINITY ? (1u << 20) : static_cast<uint64_t>(limit.rlim_cur);
}

// True for an address that only this machine reaches: localhost, 127.0.0.0/8, ::1.
bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
}

// Descriptors kept for everything but client connections: model files, logs, the repository, uploads.
constexpr uint64_t kReservedDescriptors = 64;

// The bearer tokens in force: read by every request, replaced whole on SIGHUP. Thread-safe.
class CurrentTokens {
 public:
  std::shared_ptr<const auth::TokenSet> Get() const {
    MutexLock lock(mu_);
    return tokens_;
  }
  void Set(std::shared_ptr<const auth::TokenSet> tokens) {
    MutexLock lock(mu_);
    tokens_ = std::move(tokens);
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const auth::TokenSet> tokens_ GUARDED_BY(mu_);
};

}  // namespace

int ServeCommand(const std::vector<std::string>& args) {
  if (ServeHelpRequested(args)) {
    std::cout << ServeUsage();
    return 0;
  }
  Result<DaemonConfig> resolved = ResolveDaemonConfig(args);
  if (!resolved.ok()) {
    std::cerr << "ferryd serve: " << resolved.status().message() << "\n";
    return 2;
  }
  const DaemonConfig config = *resolved;
  // SIGTERM and SIGINT are taken by sigwait on this thread; every thread started from here on (the log
  // flusher included) inherits the mask, so no other thread is interrupted by them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads the tokens file and the TLS certificate
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  SetUpLogging(config);
  EventLog log(config.log_format == "json");

  ModelServerOptions so;
  so.repository = config.model_repository;
  so.poll_seconds = config.poll_seconds;
  so.inference_threads = config.inference_threads > 0 ? config.inference_threads : CoreCount();
  so.upload_limits.max_total_bytes = config.max_upload_bytes;
  so.max_versions_per_model = config.max_versions_per_model;
  so.max_repository_bytes = config.max_repository_bytes;
  so.admission.max_total_instances = config.max_total_instances;
  so.admission.max_model_memory_bytes = config.max_model_memory_bytes;
  so.admission.max_server_memory_bytes = config.max_server_memory_bytes;
  for (const auto& [id, bytes] : config.device_memory_limit) {
    if (DeviceRegistry::Global().Find(id) == nullptr) {
      std::string known;
      for (const Device* d : DeviceRegistry::Global().All())
        if (d != &CpuDevice()) known += (known.empty() ? "" : ", ") + std::string(d->id());
      std::cerr << "ferryd serve: device_memory_limit: this server has no device \"" << id
                << "\" (its devices: " << (known.empty() ? "none but the CPU" : known) << ")\n";
      return 2;
    }
    so.admission.device_memory_limits[id] = bytes;
  }
  so.on_event = [&log](const VersionEvent& e, double seconds) {
    std::vector<std::pair<std::string, nlohmann::json>> fields{{"model", e.model_name}, {"version", e.version}};
    if (e.state == VersionState::kAvailable || e.state == VersionState::kFailed) {
      fields.emplace_back("seconds", std::round(seconds * 1000) / 1000);
    }
    if (e.state == VersionState::kFailed) {
      fields.emplace_back("error", e.error);
      log.Write(spdlog::level::err, "version failed to load", fields);
    } else {
      log.Write(spdlog::level::info, fmt::format("version {}", VersionStateName(e.state)), fields);
    }
  };
  so.on_problem = [&log](const std::string& problem) {
    log.Write(spdlog::level::warn, "repository problem", {{"problem", problem}});
  };
  Result<std::unique_ptr<ModelServer>> created = ModelServer::Create(so);
  if (!created.ok()) {
    log.Write(spdlog::level::critical, "cannot start", {{"error", created.status().message()}});
    return 1;
  }
  std::unique_ptr<ModelServer> server = std::move(*created);
  auto load_start = std::chrono::steady_clock::now();
  if (Status s = server->Start(); !s.ok()) {
    log.Write(spdlog::level::critical, "cannot start", {{"error", s.message()}});
    return 1;
  }
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  if (!server->removed_leftovers().empty()) {
    const auto& removed = server->removed_leftovers();
    const size_t shown = std::min<size_t>(removed.size(), 10);
    log.Write(spdlog::level::info, "removed the leftovers of interrupted repository operations",
              {{"count", removed.size()},
               {"paths", fmt::format("{}{}", fmt::join(removed.begin(), removed.begin() + shown, ","),
                                     removed.size() > shown ? ",..." : "")}});
  }

  api::RestApiOptions ao;
  ao.server_version = kFerryVersion;
  ao.max_request_bytes = config.max_request_bytes;
  ao.max_upload_bytes = config.max_upload_bytes;
  ao.on_access = [&log](const api::AccessRecord& r) {
    std::vector<std::pair<std::string, nlohmann::json>> fields{
        {"method", r.method},     {"path", r.path},           {"status", r.status},
        {"bytes_in", r.bytes_in}, {"bytes_out", r.bytes_out}, {"ms", std::round(r.seconds * 1e6) / 1e3},
        {"protocol", r.protocol}, {"model", r.model},         {"version", r.version}};
    if (!r.token.empty()) fields.emplace_back("token", r.token);  // the token's name, never its secret
    if (!r.client.empty()) fields.emplace_back("client_cert", r.client);
    log.Write(r.status >= 500 ? spdlog::level::warn : spdlog::level::info, "request", fields);
    if (r.management) {
      log.Write(spdlog::level::info, "audit: repository change",
                {{"token", r.token.empty() ? "(none)" : r.token},
                 {"method", r.method},
                 {"path", r.path},
                 {"status", r.status},
                 {"model", r.model},
                 {"version", r.version}});
    }
  };
  // Bearer tokens, swapped whole on SIGHUP.
  CurrentTokens tokens;
  if (!config.tokens_file.empty()) {
    Result<auth::TokenSet> loaded = auth::TokenSet::Load(config.tokens_file);
    if (!loaded.ok()) {
      log.Write(spdlog::level::critical, "cannot start", {{"error", loaded.status().message()}});
      server->Stop();
      return 1;
    }
    log.Write(spdlog::level::info, "bearer tokens loaded",
              {{"file", config.tokens_file}, {"tokens", loaded->tokens().size()}});
    tokens.Set(std::make_shared<const auth::TokenSet>(std::move(*loaded)));
    ao.tokens = [&tokens] { return tokens.Get(); };
  } else if (!IsLoopbackHost(config.host)) {
    log.Write(spdlog::level::warn,
              "no tokens_file and a non-loopback address: the management routes answer 403 (inference is open)",
              {{"host", config.host}});
  }
  ao.management_without_tokens = IsLoopbackHost(config.host);
  // On a loopback address, management requests must name this machine (a web page cannot reach them through DNS
  // rebinding) and must not come from another site.
  if (IsLoopbackHost(config.host)) ao.management_hosts = {"localhost", "127.0.0.1", "[::1]"};
  ServerFacade facade(server.get());  // what the API sees of the server
  api::RestApi rest(&facade, ao);

  http::HttpServerOptions ho;
  ho.host = config.host;
  ho.port = static_cast<uint16_t>(config.port);
  // Handlers only decode and enqueue (repository operations run on their own threads), so a few I/O threads
  // serve every connection; more would only preempt the inference threads.
  ho.threads = config.http_threads > 0 ? config.http_threads : std::clamp(CoreCount(), 1, 4);
  const uint64_t open_files = RaiseOpenFilesLimit();
  const uint64_t fd_room = open_files > 2 * kReservedDescriptors ? open_files - kReservedDescriptors : open_files / 2;
  if (config.max_connections > 0) {
    ho.max_connections = config.max_connections;
    if (static_cast<uint64_t>(config.max_connections) > fd_room) {
      log.Write(spdlog::level::warn, "max_connections is above what the open-files limit leaves for connections",
                {{"max_connections", config.max_connections}, {"open_files_limit", open_files}});
    }
  } else {
    ho.max_connections = static_cast<int>(std::clamp<uint64_t>(fd_room, 1, 4096));
  }
  ho.max_body_bytes = config.max_request_bytes;
  ho.body_policy = [&rest](std::string_view method, std::string_view path) { return rest.BodyPolicy(method, path); };
  ho.max_request_line_bytes = config.max_request_line_bytes;
  ho.max_header_bytes = config.max_header_bytes;
  ho.max_header_count = static_cast<size_t>(config.max_header_count);
  ho.max_body_memory_bytes = config.max_body_memory_bytes;
  ho.header_timeout_ms = config.header_timeout_seconds * 1000;
  ho.body_timeout_ms = config.body_timeout_seconds * 1000;
  ho.min_body_bytes_per_second = config.min_body_bytes_per_second;
  ho.idle_timeout_ms = config.idle_timeout_seconds * 1000;
  // Stop() gives replies still being written this long (after in-flight requests got their own timeout).
  ho.stop_grace_ms =
      static_cast<int>(std::min<int64_t>(30000, std::max<int64_t>(2000, config.shutdown_timeout_seconds * 1000)));
  ho.tls.cert_file = config.tls_cert_file;
  ho.tls.key_file = config.tls_key_file;
  ho.tls.client_ca_file = config.tls_client_ca_file;
  ho.tls.require_client_cert = config.tls_require_client_cert;
  ho.on_refusal = [&log](const http::Refusal& r) {
    std::vector<std::pair<std::string, nlohmann::json>> fields{{"status", r.status}, {"reason", r.reason}};
    if (!r.peer.empty()) fields.emplace_back("peer", r.peer);
    if (!r.method.empty()) fields.emplace_back("method", r.method);
    if (!r.target.empty()) fields.emplace_back("target", r.target);
    log.Write(spdlog::level::warn, "http request refused", fields);
  };
  Result<std::unique_ptr<http::HttpServer>> http_server =
      http::HttpServer::Start(ho, [&rest](http::HttpRequest request, http::Responder respond) {
        rest.Handle(std::move(request), std::move(respond));
      });
  if (!http_server.ok()) {
    log.Write(spdlog::level::critical, "cannot start", {{"error", http_server.status().message()}});
    server->Stop();
    return 1;
  }
  log.Write(spdlog::level::info,
            fmt::format("ferryd ready: serving {} model(s) from {} on {}://{}:{}", server->ServedModels(),
                        server->repository(), ho.tls.enabled() ? "https" : "http", config.host, (*http_server)->port()),
            {{"load_seconds", std::round(load_seconds * 1000) / 1000},
             {"version", kFerryVersion},
             {"http_threads", ho.threads},
             {"max_connections", ho.max_connections}});
  spdlog::default_logger()->flush();
  std::fflush(stderr);

  int sig = 0;
  for (;;) {
    sigwait(&signals, &sig);
    if (sig != SIGHUP) break;
    if (ho.tls.enabled()) {
      if (Status s = (*http_server)->ReloadTls(ho.tls); s.ok()) {
        log.Write(spdlog::level::info, "SIGHUP: TLS certificate reloaded", {{"cert_file", ho.tls.cert_file}});
      } else {
        log.Write(spdlog::level::err, "SIGHUP: TLS certificate not reloaded, the previous one stays",
                  {{"error", s.message()}});
      }
    }
    if (config.tokens_file.empty()) {
      if (!ho.tls.enabled()) log.Write(spdlog::level::info, "SIGHUP: nothing to reload (no tokens_file, no TLS)");
      continue;
    }
    Result<auth::TokenSet> reloaded = auth::TokenSet::Load(config.tokens_file);
    if (!reloaded.ok()) {
      log.Write(spdlog::level::err, "SIGHUP: tokens file not reloaded, the previous tokens stay",
                {{"error", reloaded.status().message()}});
      continue;
    }
    const size_t count = reloaded->tokens().size();
    tokens.Set(std::make_shared<const auth::TokenSet>(std::move(*reloaded)));
    log.Write(spdlog::level::info, "SIGHUP: bearer tokens reloaded", {{"tokens", count}});
  }
  spdlog::default_logger()->flush();
  log.Write(spdlog::level::info, "shutting down",
            {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}, {"in_flight", rest.in_flight()}});
  // New requests get 503 from here on; the ones in flight finish, up to the timeout.
  rest.SetShuttingDown();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdown_timeout_seconds);
  while (rest.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (rest.in_flight() > 0) {
    log.Write(spdlog::level::warn, "shutdown timeout: answering the remaining requests with 503",
              {{"in_flight", rest.in_flight()}});
  }
  (*http_server)->Stop();
  server->Stop();
  log.Write(spdlog::level::info, "stopped");
  spdlog::shutdown();
  std::fflush(nullptr);
  return 0;
}

}  // namespace ferry
