#include "main/daemon_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <utility>

#include "registry/yaml_text.h"

namespace ferry {
namespace {

namespace fs = std::filesystem;

// A daemon config is a few lines; the bound keeps `--config /dev/zero` from eating memory.
constexpr uint64_t kMaxConfigFileBytes = 1 << 20;

std::string Quote(std::string_view text) { return QuoteUserText(text); }
std::string Describe(const YAML::Node& node) { return DescribeYamlNode(node); }

std::string JoinNames(const char* const* begin, const char* const* end) {
  std::string out;
  for (const char* const* it = begin; it != end; ++it) {
    if (!out.empty()) out += ", ";
    out += *it;
  }
  return out;
}

// ---- Value checks shared by the YAML keys and the flags; `key` is "port" or "--port". ----------------------

// An integer in [min, max] written as plain decimal digits. A sign, leading zeros, 0x8, 8.0 and 1e3 are
// refused so that the value means exactly what it shows. `type_max` is the largest value of the field's type:
// when max is below it the range is part of what is expected ("an integer in 1..65535"). `got` describes the
// text for the message (a YAML caller says whether it was quoted).
Result<uint64_t> CheckInteger(std::string_view text, const std::string& key, uint64_t min, uint64_t max,
                              uint64_t type_max, const std::string& got) {
  std::string want;
  if (max < type_max) {
    want = fmt::format("an integer in {}..{}", min, max);
  } else if (min == 0) {
    want = "a non-negative integer";
  } else if (min == 1) {
    want = "a positive integer";
  } else {
    want = fmt::format("an integer >= {}", min);
  }
  const bool negative = !text.empty() && text[0] == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  const bool all_digits =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
  // Leading zeros are refused: YAML 1.1 readers take 010 as octal 8, YAML 1.2 readers as 10.
  if (!all_digits || (digits.size() > 1 && digits[0] == '0')) {
    return InvalidArgument("{}: expected {}, got {}", key, want, got);
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) {
    if (negative) return InvalidArgument("{}: expected {}, got {}", key, want, got);
    return InvalidArgument("{}: {} is out of range (at most {})", key, Quote(text), max);
  }
  if (ec != std::errc() || ptr != digits.data() + digits.size()) {
    return InvalidArgument("{}: expected {}, got {}", key, want, got);
  }
  if (negative && value != 0) return InvalidArgument("{}: expected {}, got -{}", key, want, value);
  if (value < min) return InvalidArgument("{}: expected {}, got {}", key, want, value);
  if (value > max) {
    if (max < type_max) return InvalidArgument("{}: expected {}, got {}", key, want, value);
    return InvalidArgument("{}: {} is out of range (at most {})", key, value, max);
  }
  return value;
}

Result<int> CheckInt(std::string_view text, const std::string& key, int min, int max, const std::string& got) {
  FERRY_ASSIGN_OR_RETURN(uint64_t v, CheckInteger(text, key, static_cast<uint64_t>(min), static_cast<uint64_t>(max),
                                                  static_cast<uint64_t>(INT_MAX), got));
  return static_cast<int>(v);
}

Status CheckHost(const std::string& value, const std::string& key) {
  const bool bad = value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
                     unsigned char u = static_cast<unsigned char>(c);
                     return u <= 0x20 || u == 0x7f;
                   });
  if (bad) return InvalidArgument("{}: expected a host name or address, got {}", key, Quote(value));
  return Status::Ok();
}

template <size_t N>
Status CheckChoice(const std::string& value, const std::string& key, const char* const (&choices)[N]) {
  for (const char* c : choices) {
    if (value == c) return Status::Ok();
  }
  return InvalidArgument("{}: expected one of {}, got {}", key, JoinNames(choices, choices + N), Quote(value));
}

// The directory `base_dir` names, made absolute against the current directory.
Result<fs::path> AbsoluteDir(const std::string& base_dir, const std::string& key) {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec) {
    return InvalidArgument("{}: cannot resolve a relative path: the current directory is unavailable ({})", key,
                           ec.message());
  }
  if (base_dir.empty()) return cwd;
  fs::path base(base_dir);
  return base.is_absolute() ? base : cwd / base;
}

// A directory path made absolute against `base_dir` and lexically normalized ("a/./b/../c/" -> "a/c"), as
// Go's filepath.Join and Python's os.path.normpath do, so logs show the path a reader expects.
Result<std::string> ResolvePath(const std::string& value, const std::string& key, const std::string& base_dir) {
  if (value.empty()) return InvalidArgument("{}: expected a directory path, got an empty string", key);
  if (value.find('\0') != std::string::npos) {
    return InvalidArgument("{}: the path {} contains a NUL character", key, Quote(value));
  }
  fs::path path(value);
  if (path.is_relative()) {
    FERRY_ASSIGN_OR_RETURN(fs::path base, AbsoluteDir(base_dir, key));
    path = base / path;
  }
  path = path.lexically_normal();
  if (!path.has_filename() && path != path.root_path()) path = path.parent_path();  // drop a trailing '/'
  return path.string();
}

// ---- YAML ---------------------------------------------------------------------------------------------------

bool IsPlainScalar(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

// A string value: any plain or quoted scalar ("off" and "8501" are strings here, not a bool or a number).
Result<std::string> YamlString(const YAML::Node& node, const std::string& key, const char* want) {
  const bool string_tag = node.Tag() == "?" || node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
  if (!node.IsScalar() || !string_tag) return InvalidArgument("{}: expected {}, got {}", key, want, Describe(node));
  return node.Scalar();
}

Result<uint64_t> YamlInteger(const YAML::Node& node, const std::string& key, uint64_t min, uint64_t max,
                             uint64_t type_max) {
  // Reuses CheckInteger's wording for the refusal of non-scalars and quoted numbers.
  if (!IsPlainScalar(node)) return CheckInteger("", key, min, max, type_max, Describe(node));
  return CheckInteger(node.Scalar(), key, min, max, type_max, Describe(node));
}

Result<int> YamlInt(const YAML::Node& node, const std::string& key, int min, int max) {
  FERRY_ASSIGN_OR_RETURN(uint64_t v, YamlInteger(node, key, static_cast<uint64_t>(min), static_cast<uint64_t>(max),
                                                 static_cast<uint64_t>(INT_MAX)));
  return static_cast<int>(v);
}

// A boolean: a plain true or false (not yes/no/on/off, which YAML 1.2 reads as strings).
Result<bool> YamlBool(const YAML::Node& node, const std::string& key) {
  if (IsPlainScalar(node) && (node.Scalar() == "true" || node.Scalar() == "false")) return node.Scalar() == "true";
  return InvalidArgument("{}: expected true or false, got {}", key, Describe(node));
}

Status ParseKey(const std::string& name, const YAML::Node& value, const std::string& base_dir, DaemonConfig& config) {
  if (name == "model_repository") {
    FERRY_ASSIGN_OR_RETURN(std::string path, YamlString(value, name, "a directory path"));
    FERRY_ASSIGN_OR_RETURN(config.model_repository, ResolvePath(path, name, base_dir));
  } else if (name == "host") {
    FERRY_ASSIGN_OR_RETURN(config.host, YamlString(value, name, "a host name or address"));
    FERRY_RETURN_IF_ERROR(CheckHost(config.host, name));
  } else if (name == "port") {
    FERRY_ASSIGN_OR_RETURN(config.port, YamlInt(value, name, 1, 65535));
  } else if (name == "poll_seconds") {
    FERRY_ASSIGN_OR_RETURN(config.poll_seconds, YamlInt(value, name, 0, INT_MAX));
  } else if (name == "log_level") {
    FERRY_ASSIGN_OR_RETURN(config.log_level, YamlString(value, name, "a log level"));
    FERRY_RETURN_IF_ERROR(CheckChoice(config.log_level, name, kLogLevels));
  } else if (name == "log_format") {
    FERRY_ASSIGN_OR_RETURN(config.log_format, YamlString(value, name, "a log format"));
    FERRY_RETURN_IF_ERROR(CheckChoice(config.log_format, name, kLogFormats));
  } else if (name == "max_request_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_request_bytes, YamlInteger(value, name, 1, UINT64_MAX, UINT64_MAX));
  } else if (name == "max_upload_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_upload_bytes, YamlInteger(value, name, 1, UINT64_MAX, UINT64_MAX));
  } else if (name == "shutdown_timeout_seconds") {
    FERRY_ASSIGN_OR_RETURN(config.shutdown_timeout_seconds, YamlInt(value, name, 0, INT_MAX));
  } else if (name == "inference_threads") {
    FERRY_ASSIGN_OR_RETURN(config.inference_threads, YamlInt(value, name, 0, kMaxInferenceThreads));
  } else if (name == "max_versions_per_model") {
    FERRY_ASSIGN_OR_RETURN(config.max_versions_per_model, YamlInt(value, name, 1, 1000000));
  } else if (name == "max_repository_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_repository_bytes, YamlInteger(value, name, 0, UINT64_MAX, UINT64_MAX));
  } else if (name == "max_total_instances") {
    FERRY_ASSIGN_OR_RETURN(config.max_total_instances, YamlInt(value, name, 1, kMaxTotalInstances));
  } else if (name == "max_model_memory_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_model_memory_bytes, YamlInteger(value, name, 1, UINT64_MAX, UINT64_MAX));
  } else if (name == "max_server_memory_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_server_memory_bytes, YamlInteger(value, name, 0, UINT64_MAX, UINT64_MAX));
  } else if (name == "device_memory_limit") {
    if (!value.IsMap() && !value.IsNull())
      return InvalidArgument("{}: expected a map of device ids to bytes, like {{cuda:0: 40000000000}}, got {}", name,
                             Describe(value));
    config.device_memory_limit.clear();
    for (const auto& kv : value) {
      if (!IsPlainScalar(kv.first) || kv.first.Scalar().empty())
        return InvalidArgument("{}: keys must be device ids, got {}", name, Describe(kv.first));
      const std::string id = kv.first.Scalar();
      if (id == "cpu") return InvalidArgument("{}: the CPU's memory is max_server_memory_bytes", name);
      if (config.device_memory_limit.count(id)) return InvalidArgument("{}: duplicate device {}", name, Quote(id));
      FERRY_ASSIGN_OR_RETURN(config.device_memory_limit[id],
                             YamlInteger(kv.second, name + "." + id, 1, UINT64_MAX, UINT64_MAX));
    }
  } else if (name == "http_threads") {
    FERRY_ASSIGN_OR_RETURN(config.http_threads, YamlInt(value, name, 0, 256));
  } else if (name == "max_connections") {
    FERRY_ASSIGN_OR_RETURN(config.max_connections, YamlInt(value, name, 0, 1 << 20));
  } else if (name == "max_request_line_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_request_line_bytes, YamlInteger(value, name, 256, 1 << 20, UINT64_MAX));
  } else if (name == "max_header_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_header_bytes, YamlInteger(value, name, 1024, 16 << 20, UINT64_MAX));
  } else if (name == "max_header_count") {
    FERRY_ASSIGN_OR_RETURN(config.max_header_count, YamlInt(value, name, 1, 10000));
  } else if (name == "max_body_memory_bytes") {
    FERRY_ASSIGN_OR_RETURN(config.max_body_memory_bytes, YamlInteger(value, name, 1, UINT64_MAX, UINT64_MAX));
  } else if (name == "header_timeout_seconds") {
    FERRY_ASSIGN_OR_RETURN(config.header_timeout_seconds, YamlInt(value, name, 1, 86400));
  } else if (name == "body_timeout_seconds") {
    FERRY_ASSIGN_OR_RETURN(config.body_timeout_seconds, YamlInt(value, name, 1, 86400));
  } else if (name == "min_body_bytes_per_second") {
    FERRY_ASSIGN_OR_RETURN(config.min_body_bytes_per_second, YamlInteger(value, name, 0, UINT64_MAX, UINT64_MAX));
  } else if (name == "idle_timeout_seconds") {
    FERRY_ASSIGN_OR_RETURN(config.idle_timeout_seconds, YamlInt(value, name, 1, 86400));
  } else if (name == "tokens_file") {
    FERRY_ASSIGN_OR_RETURN(std::string path, YamlString(value, name, "a file path"));
    if (path.empty()) {
      config.tokens_file.clear();
    } else {
      FERRY_ASSIGN_OR_RETURN(config.tokens_file, ResolvePath(path, name, base_dir));
    }
  } else if (name == "tls_cert_file" || name == "tls_key_file" || name == "tls_client_ca_file") {
    std::string& field = name == "tls_cert_file"  ? config.tls_cert_file
                         : name == "tls_key_file" ? config.tls_key_file
                                                  : config.tls_client_ca_file;
    FERRY_ASSIGN_OR_RETURN(std::string path, YamlString(value, name, "a file path"));
    field.clear();
    if (!path.empty()) {
      FERRY_ASSIGN_OR_RETURN(field, ResolvePath(path, name, base_dir));
    }
  } else if (name == "tls_require_client_cert") {
    FERRY_ASSIGN_OR_RETURN(config.tls_require_client_cert, YamlBool(value, name));
  } else {
    return InvalidArgument("unknown key {} (known keys: {})", Quote(name),
                           JoinNames(std::begin(kDaemonConfigKeys), std::end(kDaemonConfigKeys)));
  }
  return Status::Ok();
}

Result<DaemonConfig> ParseDocument(const YAML::Node& root, const std::string& base_dir) {
  DaemonConfig config;
  if (root.IsNull()) return config;  // an empty file or a lone "---"
  if (!root.IsMap()) return InvalidArgument("config: expected a map of keys to values, got {}", Describe(root));
  std::set<std::string> seen;  // yaml-cpp keeps duplicate keys silently
  for (const auto& kv : root) {
    if (kv.first.IsNull()) {
      return InvalidArgument("config: a key is empty or a YAML null word (null, ~)");
    }
    if (!kv.first.IsScalar()) return InvalidArgument("config: keys must be names, got {}", Describe(kv.first));
    const std::string& name = kv.first.Scalar();
    if (!seen.insert(name).second) return InvalidArgument("config: duplicate key {}", Quote(name));
    FERRY_RETURN_IF_ERROR(ParseKey(name, kv.second, base_dir, config));
  }
  // Limits that bound one another.
  if (config.max_header_bytes < config.max_request_line_bytes) {
    return InvalidArgument(
        "max_header_bytes ({}) must be at least max_request_line_bytes ({}): the request line is "
        "part of the header",
        config.max_header_bytes, config.max_request_line_bytes);
  }
  if (config.max_body_memory_bytes < config.max_request_bytes) {
    return InvalidArgument(
        "max_body_memory_bytes ({}) must be at least max_request_bytes ({}), or no request of the "
        "largest allowed size could ever be read",
        config.max_body_memory_bytes, config.max_request_bytes);
  }
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return InvalidArgument("tls_cert_file and tls_key_file go together: set both for HTTPS, or neither");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return InvalidArgument("tls_client_ca_file needs HTTPS: set tls_cert_file and tls_key_file too");
  }
  return config;
}

// ---- Command line -------------------------------------------------------------------------------------------

constexpr const char* kFlags[] = {"--config",    "--model-repository", "--host",        "--port",
                                  "--log-level", "--log-format",       "--poll-seconds"};

Result<std::string> ReadConfigFile(const std::string& path) {
  const std::string what = fmt::format("--config: cannot read {}", Quote(path));
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (ec) return InvalidArgument("{}: {}", what, ec.message());
  if (fs::is_directory(st)) return InvalidArgument("{}: it is a directory", what);
  if (!fs::is_regular_file(st)) return InvalidArgument("{}: not a regular file", what);
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("{}: {}", what, std::strerror(errno));
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return InvalidArgument("{}: {}", what, std::strerror(errno));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return InvalidArgument("{}: larger than {} bytes; a daemon config is a few lines", what, kMaxConfigFileBytes);
  }
  return text;
}

// Applies one flag's value; the flag has been validated as known.
Status ApplyFlag(const std::string& flag, const std::string& value, DaemonConfig& config) {
  const std::string got = Quote(value);
  if (flag == "--model-repository") {
    FERRY_ASSIGN_OR_RETURN(config.model_repository, ResolvePath(value, flag, ""));
  } else if (flag == "--host") {
    FERRY_RETURN_IF_ERROR(CheckHost(value, flag));
    config.host = value;
  } else if (flag == "--port") {
    FERRY_ASSIGN_OR_RETURN(config.port, CheckInt(value, flag, 1, 65535, got));
  } else if (flag == "--log-level") {
    FERRY_RETURN_IF_ERROR(CheckChoice(value, flag, kLogLevels));
    config.log_level = value;
  } else if (flag == "--log-format") {
    FERRY_RETURN_IF_ERROR(CheckChoice(value, flag, kLogFormats));
    config.log_format = value;
  } else if (flag == "--poll-seconds") {
    FERRY_ASSIGN_OR_RETURN(config.poll_seconds, CheckInt(value, flag, 0, INT_MAX, got));
  }
  return Status::Ok();
}

Result<DaemonConfig> Resolve(const std::vector<std::string>& args) {
  // Pass 1: split the flags from their values, so a bad command line is reported before any file is read.
  std::vector<std::pair<std::string, std::string>> flags;
  std::set<std::string> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return InvalidArgument("unexpected argument {}: serve takes only flags (see ferryd serve --help)", Quote(arg));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    if (std::find_if(std::begin(kFlags), std::end(kFlags), [&](const char* f) { return name == f; }) ==
        std::end(kFlags)) {
      return InvalidArgument("unknown flag {} (see ferryd serve --help)", Quote(name));
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
      value = args[++i];
    } else {
      // A following "--flag" is taken as the next flag, not as this one's value: `--config --port 80` is a
      // forgotten value far more often than a file named "--port" (which `--config=--port` still reaches).
      return InvalidArgument("{}: missing value", name);
    }
    if (!seen.insert(name).second) return InvalidArgument("{}: given more than once", name);
    flags.emplace_back(name, std::move(value));
  }

  // Pass 2: the file wherever --config stood, then every other flag over it.
  DaemonConfig config;
  for (const auto& [name, value] : flags) {
    if (name != "--config") continue;
    if (value.empty()) return InvalidArgument("--config: expected a file path, got an empty string");
    FERRY_ASSIGN_OR_RETURN(std::string text, ReadConfigFile(value));
    FERRY_ASSIGN_OR_RETURN(std::string path, ResolvePath(value, "--config", ""));
    auto parsed = ParseDaemonConfig(text, fs::path(path).parent_path().string());
    if (!parsed.ok()) return parsed.status().WithContext(fmt::format("config file {}", Quote(value)));
    config = std::move(parsed).value();
  }
  for (const auto& [name, value] : flags) {
    if (name != "--config") FERRY_RETURN_IF_ERROR(ApplyFlag(name, value, config));
  }
  if (config.model_repository.empty()) {
    return InvalidArgument("no model repository: pass --model-repository DIR or set model_repository in the config");
  }
  return config;
}

}  // namespace

Result<DaemonConfig> ParseDaemonConfig(const std::string& yaml_text, const std::string& base_dir) {
  // The one boundary where yaml-cpp's exceptions (syntax errors, recursion depth, bad_alloc) become a Status.
  try {
    const YamlDocuments docs = LoadYamlDocuments(yaml_text);
    if (docs.count == 0) return DaemonConfig();
    if (docs.count > 1) {
      return InvalidArgument("config: expected one YAML document, got {} (remove the extra \"---\")", docs.count);
    }
    return ParseDocument(docs.first, base_dir);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("config is not valid YAML: line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1,
                           e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument("config could not be read: {}", e.what());
  }
}

Result<DaemonConfig> ResolveDaemonConfig(const std::vector<std::string>& args) {
  // std::filesystem and std::string may throw (bad_alloc, filesystem_error on odd paths); none escapes.
  try {
    return Resolve(args);
  } catch (const std::exception& e) {
    return InvalidArgument("cannot resolve the daemon configuration: {}", e.what());
  }
}

bool ServeHelpRequested(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
}

std::string ServeUsage() {
  const DaemonConfig d;
  return fmt::format(
      "usage: ferryd serve [flags]\n"
      "Serves the models of a repository over HTTP (TF Serving and KServe v2 APIs).\n"
      "Flags override the config file; each may also be written --flag=VALUE.\n"
      "  --config FILE             YAML config (see config/ferryd.yaml); no file is read unless given\n"
      "  --model-repository DIR    the model repository (required here or as model_repository in the config)\n"
      "  --host H                  address to listen on (default {})\n"
      "  --port P                  TCP port, 1..65535 (default {})\n"
      "  --log-level L             {} (default {})\n"
      "  --log-format F            {} (default {})\n"
      "  --poll-seconds N          rescan the repository every N seconds; 0: never (default {})\n"
      "  -h, --help                print this help\n",
      d.host, d.port, fmt::join(kLogLevels, "|"), d.log_level, fmt::join(kLogFormats, "|"), d.log_format,
      d.poll_seconds);
}

}  // namespace ferry
