#include "main/serve.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "api/rest_api.h"
#include "http/http_server.h"
#include "main/daemon_config.h"
#include "server/model_server.h"

namespace ferry {

namespace {

constexpr const char* kFerryVersion = "0.1.0";

// Log lines: "message key=value ..." in text, one JSON object per line in json.
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
      std::string text = message;
      for (const auto& [k, v] : fields) {
        text += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
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
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  SetUpLogging(config);
  EventLog log(config.log_format == "json");


  ModelServerOptions so;
  so.repository = config.model_repository;
  so.poll_seconds = config.poll_seconds;
  so.inference_threads = config.inference_threads > 0 ? config.inference_threads : CoreCount();
  so.upload_limits.max_total_bytes = config.max_upload_bytes;
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

  api::RestApiOptions ao;
  ao.server_version = kFerryVersion;
  ao.max_request_bytes = config.max_request_bytes;
  ao.max_upload_bytes = config.max_upload_bytes;
  ao.on_access = [&log](const api::AccessRecord& r) {
    log.Write(r.status >= 500 ? spdlog::level::warn : spdlog::level::info, "request",
              {{"method", r.method},
               {"path", r.path},
               {"status", r.status},
               {"bytes_in", r.bytes_in},
               {"bytes_out", r.bytes_out},
               {"ms", std::round(r.seconds * 1e6) / 1e3},
               {"protocol", r.protocol},
               {"model", r.model},
               {"version", r.version}});
  };
  api::RestApi rest(server.get(), ao);

  http::HttpServerOptions ho;
  ho.host = config.host;
  ho.port = static_cast<uint16_t>(config.port);
  ho.max_body_bytes = std::max(config.max_request_bytes, config.max_upload_bytes);
  // A small I/O pool: handlers only decode and enqueue (repository operations run on their own threads), and
  // cpprest's default of 40 threads preempts the inference threads on small machines (bench/RESULTS.md).
  ho.io_threads = std::max(4, 2 * CoreCount());
  // Stop() gives replies still being written this long (after in-flight requests got their own timeout).
  ho.stop_grace_ms = static_cast<int>(std::min<int64_t>(30000, std::max<int64_t>(2000, config.shutdown_timeout_seconds * 1000)));
  ho.body_limit = [&rest](const std::string& method, const std::string& path) {
    return rest.BodyLimit(method, path);
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
            fmt::format("ferryd ready: serving {} model(s) from {} on http://{}:{}", server->ServedModels(),
                        server->repository(), config.host, config.port),
            {{"load_seconds", std::round(load_seconds * 1000) / 1000}, {"version", kFerryVersion}});
  spdlog::default_logger()->flush();
  std::fflush(stderr);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::default_logger()->flush();
  log.Write(spdlog::level::info, "shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"},
                                                   {"in_flight", rest.in_flight()}});
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
  // cpprest's pool threads outlive everything here and would race the static destructors of a normal exit.
  spdlog::default_logger()->flush();
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace ferry
