// DaemonConfig: the settings of `ferryd serve`, from config/ferryd.yaml and the command line.
//
// The YAML file is parsed as strictly as a model's config.yaml: unknown keys, duplicate keys, quoted or
// non-decimal numbers, out-of-range values and more than one YAML document are refused, so a typo never
// passes silently. Command-line flags override the file. Every error is InvalidArgument with a message that
// names the key or flag at fault (ferryd exits 2 on it). This is the only place of the daemon that uses
// yaml-cpp; its exceptions never leave daemon_config.cc. Thread-safe: no shared state (ResolveDaemonConfig
// reads the current directory and the --config file, nothing else).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ferry/status.h"

namespace ferry {

struct DaemonConfig {
  // The model repository directory. Required (config key or --model-repository). Always absolute and
  // lexically normalized after parsing; whether it exists is checked by the daemon, not here.
  std::string model_repository;
  // Address the HTTP server binds to; non-empty, no spaces or control characters.
  std::string host = "127.0.0.1";
  // TCP port, 1..65535.
  int port = 8501;
  // Seconds between repository rescans; 0 disables polling.
  int poll_seconds = 0;
  // One of kLogLevels.
  std::string log_level = "info";
  // One of kLogFormats.
  std::string log_format = "text";
  // Largest request body other than a model upload, in bytes (> 0); larger bodies get 413.
  uint64_t max_request_bytes = 64ull << 20;
  // Largest model upload body (PUT/POST version), in bytes (> 0); larger bodies get 413.
  uint64_t max_upload_bytes = 1ull << 30;
  // Seconds to let in-flight requests finish after SIGTERM/SIGINT before stopping anyway; 0 stops at once.
  int shutdown_timeout_seconds = 30;
  // The CPU thread budget shared by every inference instance, 0..kMaxInferenceThreads; 0 means all cores.
  int inference_threads = 0;

  // Storage and admission limits (server/model_server.h, server/admission.h).
  int max_versions_per_model = 100;              // 1..1000000; an upload beyond it gets 507
  uint64_t max_repository_bytes = 0;             // bytes of the repository's files; 0: no quota; beyond it 507
  int max_total_instances = 1024;                // instances of all loaded versions, 1..kMaxTotalInstances
  uint64_t max_model_memory_bytes = 2ull << 30;  // one version: weights + instances x planned memory, > 0
  uint64_t max_server_memory_bytes = 0;          // all loaded versions; 0: 3/4 of RAM (or of the cgroup limit)
  // Per device id ("cuda:0"): bytes of its memory all loaded versions may take; a device not listed: its total
  // minus a reserve (server/admission.h). Ids are checked against the server's devices when it starts.
  std::map<std::string, uint64_t> device_memory_limit;

  // The HTTP server (see http::HttpServerOptions for what each limit answers).
  int http_threads = 0;                         // I/O threads, 0..256; 0: one per core, at most 4
  int max_connections = 0;                      // 0..1048576; 0: what the open-files limit allows, at most 4096
  uint64_t max_request_line_bytes = 8 * 1024;   // 256..1 MiB (414 beyond)
  uint64_t max_header_bytes = 32 * 1024;        // 1 KiB..16 MiB, >= max_request_line_bytes (431 beyond)
  int max_header_count = 100;                   // 1..10000 (431 beyond)
  uint64_t max_body_memory_bytes = 1ull << 30;  // >= max_request_bytes (503 beyond)
  int header_timeout_seconds = 30;              // 1..86400 (408)
  int body_timeout_seconds = 30;                // 1..86400, plus one second per min_body_bytes_per_second (408)
  uint64_t min_body_bytes_per_second = 16 * 1024;
  int idle_timeout_seconds = 60;  // 1..86400

  // The bearer tokens file (auth/token_set.h); "" for none. Absolute after parsing (a relative path is resolved
  // like model_repository).
  std::string tokens_file;

  // HTTPS (PEM files, absolute after parsing like tokens_file): with tls_cert_file and tls_key_file set the port
  // speaks TLS only; tls_client_ca_file asks clients for a certificate signed by one of its CAs, required unless
  // tls_require_client_cert is false. Reloaded on SIGHUP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  bool tls_require_client_cert = true;

  bool operator==(const DaemonConfig&) const = default;
};

// The top-level keys ParseDaemonConfig accepts, in the order config/ferryd.yaml documents them.
inline constexpr const char* kDaemonConfigKeys[] = {"model_repository",
                                                    "host",
                                                    "port",
                                                    "poll_seconds",
                                                    "log_level",
                                                    "log_format",
                                                    "max_request_bytes",
                                                    "max_upload_bytes",
                                                    "shutdown_timeout_seconds",
                                                    "inference_threads",
                                                    "max_versions_per_model",
                                                    "max_repository_bytes",
                                                    "max_total_instances",
                                                    "max_model_memory_bytes",
                                                    "max_server_memory_bytes",
                                                    "device_memory_limit",
                                                    "http_threads",
                                                    "max_connections",
                                                    "max_request_line_bytes",
                                                    "max_header_bytes",
                                                    "max_header_count",
                                                    "max_body_memory_bytes",
                                                    "header_timeout_seconds",
                                                    "body_timeout_seconds",
                                                    "min_body_bytes_per_second",
                                                    "idle_timeout_seconds",
                                                    "tokens_file",
                                                    "tls_cert_file",
                                                    "tls_key_file",
                                                    "tls_client_ca_file",
                                                    "tls_require_client_cert"};
inline constexpr const char* kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
inline constexpr const char* kLogFormats[] = {"text", "json"};
// A sanity bound: a typo such as 80000 threads would otherwise bring the host down instead of failing fast.
inline constexpr int kMaxInferenceThreads = 1024;
// The same for instances (one thread each): 64 models at the per-model cap of 256.
inline constexpr int kMaxTotalInstances = 16384;

// Parses the YAML text of a daemon config file. An empty file (or only comments) gives the defaults, with
// model_repository left empty for the command line to supply. A relative model_repository is resolved
// against `base_dir` (the config file's directory; itself resolved against the current directory when
// relative, or the current directory when empty). Errors name the key, e.g.
// `port: expected an integer in 1..65535, got "http"` or `unknown key "prot"`.
Result<DaemonConfig> ParseDaemonConfig(const std::string& yaml_text, const std::string& base_dir);

// Resolves the configuration of `ferryd serve ARGS`. `args` are the arguments after `serve` (no program
// name, no subcommand). Flags, each as `--flag value` or `--flag=value`, each at most once:
//   --config FILE  --model-repository DIR  --host H  --port P  --log-level L  --log-format F  --poll-seconds N
// With --config the file is read (wherever the flag stands) and the other flags override it; without it the
// built-in defaults apply (no default path is read implicitly). A relative --config path and a relative
// --model-repository are resolved against the current directory; a relative model_repository inside the
// file against the file's directory. Fails on unknown flags (including --help: check ServeHelpRequested
// first), a missing or bad value, a repeated flag, a positional argument, an unreadable or invalid config
// file, and when no model repository is given at all.
Result<DaemonConfig> ResolveDaemonConfig(const std::vector<std::string>& args);

// True when `args` (as for ResolveDaemonConfig) ask for help: any of -h, --help. Lets ferryd print
// ServeUsage() and exit 0 even when the other flags are wrong.
bool ServeHelpRequested(const std::vector<std::string>& args);

// Usage text for `ferryd serve --help`, listing every flag with its default. Ends with a newline.
std::string ServeUsage();

}  // namespace ferry
