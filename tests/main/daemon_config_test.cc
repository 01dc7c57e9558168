// ParseDaemonConfig / ResolveDaemonConfig: accepted configs and command lines with hand-written expected values,
// refused ones with the key or flag the message must name, and the shipped config/ferryd.yaml.
#include "main/daemon_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>

namespace ferry {
namespace {

namespace fs = std::filesystem;

DaemonConfig Parse(const std::string& text, const std::string& base_dir = "/etc/ferry") {
  auto r = ParseDaemonConfig(text, base_dir);
  EXPECT_TRUE(r.ok()) << text << " -> " << r.status().ToString();
  return r.ok() ? *r : DaemonConfig();
}

std::string Cwd() { return fs::current_path().string(); }

TEST(DaemonConfigTest, DefaultsAreTheDocumentedOnes) {
  DaemonConfig d;
  EXPECT_EQ(d.model_repository, "");
  EXPECT_EQ(d.host, "127.0.0.1");
  EXPECT_EQ(d.port, 8501);
  EXPECT_EQ(d.poll_seconds, 0);
  EXPECT_EQ(d.log_level, "info");
  EXPECT_EQ(d.log_format, "text");
  EXPECT_EQ(d.max_request_bytes, 67108864u);
  EXPECT_EQ(d.max_upload_bytes, 1073741824u);
  EXPECT_EQ(d.shutdown_timeout_seconds, 30);
  EXPECT_EQ(d.inference_threads, 0);
  EXPECT_EQ(d.max_versions_per_model, 100);
  EXPECT_EQ(d.max_repository_bytes, 0u);
  EXPECT_EQ(d.max_total_instances, 1024);
  EXPECT_EQ(d.max_model_memory_bytes, 2147483648u);
  EXPECT_EQ(d.max_server_memory_bytes, 0u);
}

TEST(DaemonConfigTest, EmptyIsDefault) {
  const DaemonConfig want;
  EXPECT_EQ(Parse(""), want);
  EXPECT_EQ(Parse("# only a comment\n"), want);
  EXPECT_EQ(Parse("---\n"), want);
  EXPECT_EQ(Parse("\n\n   \n"), want);
}

struct Good {
  const char* yaml;
  std::function<void(DaemonConfig&)> set;  // what the text changes from the defaults
};

TEST(DaemonConfigTest, AcceptsEveryKey) {
  const Good rows[] = {
      {"model_repository: /var/lib/ferry/models",
       [](DaemonConfig& c) { c.model_repository = "/var/lib/ferry/models"; }},
      {"model_repository: \"/srv/my models/\"", [](DaemonConfig& c) { c.model_repository = "/srv/my models"; }},
      {"model_repository: models", [](DaemonConfig& c) { c.model_repository = "/etc/ferry/models"; }},
      {"host: 0.0.0.0", [](DaemonConfig& c) { c.host = "0.0.0.0"; }},
      {"host: \"::1\"", [](DaemonConfig& c) { c.host = "::1"; }},
      {"host: localhost", [](DaemonConfig& c) { c.host = "localhost"; }},
      {"port: 1", [](DaemonConfig& c) { c.port = 1; }},
      {"port: 65535", [](DaemonConfig& c) { c.port = 65535; }},
      {"port: 8080 # comment", [](DaemonConfig& c) { c.port = 8080; }},
      {"poll_seconds: 0", [](DaemonConfig& c) { c.poll_seconds = 0; }},
      {"poll_seconds: 15", [](DaemonConfig& c) { c.poll_seconds = 15; }},
      {"poll_seconds: 2147483647", [](DaemonConfig& c) { c.poll_seconds = INT_MAX; }},
      {"log_level: trace", [](DaemonConfig& c) { c.log_level = "trace"; }},
      {"log_level: debug", [](DaemonConfig& c) { c.log_level = "debug"; }},
      {"log_level: info", [](DaemonConfig& c) { c.log_level = "info"; }},
      {"log_level: warn", [](DaemonConfig& c) { c.log_level = "warn"; }},
      {"log_level: error", [](DaemonConfig& c) { c.log_level = "error"; }},
      {"log_level: off", [](DaemonConfig& c) { c.log_level = "off"; }},  // a YAML 1.1 bool word, a string here
      {"log_level: \"off\"", [](DaemonConfig& c) { c.log_level = "off"; }},
      {"log_format: text", [](DaemonConfig& c) { c.log_format = "text"; }},
      {"log_format: json", [](DaemonConfig& c) { c.log_format = "json"; }},
      {"log_format: 'json'", [](DaemonConfig& c) { c.log_format = "json"; }},
      {"max_request_bytes: 1", [](DaemonConfig& c) { c.max_request_bytes = 1; }},
      {"max_request_bytes: 1048576", [](DaemonConfig& c) { c.max_request_bytes = 1048576; }},
      {"max_request_bytes: 1073741824", [](DaemonConfig& c) { c.max_request_bytes = 1ull << 30; }},
      {"max_request_bytes: 18446744073709551615\nmax_body_memory_bytes: 18446744073709551615",
       [](DaemonConfig& c) { c.max_request_bytes = c.max_body_memory_bytes = UINT64_MAX; }},
      {"max_upload_bytes: 1", [](DaemonConfig& c) { c.max_upload_bytes = 1; }},
      {"max_upload_bytes: 5368709120", [](DaemonConfig& c) { c.max_upload_bytes = 5368709120ull; }},
      {"shutdown_timeout_seconds: 0", [](DaemonConfig& c) { c.shutdown_timeout_seconds = 0; }},
      {"shutdown_timeout_seconds: 120", [](DaemonConfig& c) { c.shutdown_timeout_seconds = 120; }},
      {"inference_threads: 0", [](DaemonConfig& c) { c.inference_threads = 0; }},
      {"inference_threads: 8", [](DaemonConfig& c) { c.inference_threads = 8; }},
      {"inference_threads: 1024", [](DaemonConfig& c) { c.inference_threads = 1024; }},
      {"max_versions_per_model: 1", [](DaemonConfig& c) { c.max_versions_per_model = 1; }},
      {"max_versions_per_model: 1000000", [](DaemonConfig& c) { c.max_versions_per_model = 1000000; }},
      {"max_repository_bytes: 0", [](DaemonConfig& c) { c.max_repository_bytes = 0; }},
      {"max_repository_bytes: 1099511627776", [](DaemonConfig& c) { c.max_repository_bytes = 1ull << 40; }},
      {"max_total_instances: 1", [](DaemonConfig& c) { c.max_total_instances = 1; }},
      {"max_total_instances: 16384", [](DaemonConfig& c) { c.max_total_instances = 16384; }},
      {"max_model_memory_bytes: 1", [](DaemonConfig& c) { c.max_model_memory_bytes = 1; }},
      {"max_model_memory_bytes: 17179869184", [](DaemonConfig& c) { c.max_model_memory_bytes = 16ull << 30; }},
      {"max_server_memory_bytes: 0", [](DaemonConfig& c) { c.max_server_memory_bytes = 0; }},
      {"max_server_memory_bytes: 18446744073709551615",
       [](DaemonConfig& c) { c.max_server_memory_bytes = UINT64_MAX; }},
      {"device_memory_limit: {}", [](DaemonConfig& c) { c.device_memory_limit.clear(); }},
      {"device_memory_limit: {cuda:0: 40000000000, cuda:1: 1}",
       [](DaemonConfig& c) {
         c.device_memory_limit = {{"cuda:0", 40000000000ull}, {"cuda:1", 1}};
       }},
      {"http_threads: 0", [](DaemonConfig& c) { c.http_threads = 0; }},
      {"http_threads: 256", [](DaemonConfig& c) { c.http_threads = 256; }},
      {"max_connections: 1", [](DaemonConfig& c) { c.max_connections = 1; }},
      {"max_connections: 1048576", [](DaemonConfig& c) { c.max_connections = 1 << 20; }},
      {"max_request_line_bytes: 256", [](DaemonConfig& c) { c.max_request_line_bytes = 256; }},
      {"max_header_bytes: 16777216", [](DaemonConfig& c) { c.max_header_bytes = 16 << 20; }},
      {"max_header_bytes: 1024\nmax_request_line_bytes: 1024",
       [](DaemonConfig& c) { c.max_header_bytes = c.max_request_line_bytes = 1024; }},
      {"max_header_count: 1", [](DaemonConfig& c) { c.max_header_count = 1; }},
      {"max_header_count: 10000", [](DaemonConfig& c) { c.max_header_count = 10000; }},
      {"max_body_memory_bytes: 67108864", [](DaemonConfig& c) { c.max_body_memory_bytes = 64 << 20; }},
      {"header_timeout_seconds: 1", [](DaemonConfig& c) { c.header_timeout_seconds = 1; }},
      {"body_timeout_seconds: 86400", [](DaemonConfig& c) { c.body_timeout_seconds = 86400; }},
      {"min_body_bytes_per_second: 0", [](DaemonConfig& c) { c.min_body_bytes_per_second = 0; }},
      {"idle_timeout_seconds: 5", [](DaemonConfig& c) { c.idle_timeout_seconds = 5; }},
      {"tokens_file: tokens.txt", [](DaemonConfig& c) { c.tokens_file = "/etc/ferry/tokens.txt"; }},
      {"tokens_file: /srv/ferry/tokens", [](DaemonConfig& c) { c.tokens_file = "/srv/ferry/tokens"; }},
      {"tokens_file: \"\"", [](DaemonConfig& c) { c.tokens_file = ""; }},
      {"tls_cert_file: tls/server.pem\ntls_key_file: /keys/server.key\ntls_client_ca_file: ca.pem\n"
       "tls_require_client_cert: false",
       [](DaemonConfig& c) {
         c.tls_cert_file = "/etc/ferry/tls/server.pem";
         c.tls_key_file = "/keys/server.key";
         c.tls_client_ca_file = "/etc/ferry/ca.pem";
         c.tls_require_client_cert = false;
       }},
      {"tls_cert_file: \"\"\ntls_key_file: \"\"", [](DaemonConfig&) {}},
  };
  for (const Good& row : rows) {
    DaemonConfig want;
    row.set(want);
    EXPECT_EQ(Parse(row.yaml), want) << row.yaml;
  }
}

TEST(DaemonConfigTest, TheContractExample) {
  DaemonConfig c = Parse(
      "model_repository: /var/lib/ferry/models   # required unless --model-repository\n"
      "host: 127.0.0.1\n"
      "port: 8501\n"
      "poll_seconds: 0            # 0: no polling; >0: rescan the repository every N seconds\n"
      "log_level: info            # trace|debug|info|warn|error|off\n"
      "log_format: text           # text|json\n"
      "max_request_bytes: 67108864      # inference/other bodies (64 MiB); larger -> 413\n"
      "max_upload_bytes: 1073741824     # PUT/POST version uploads (1 GiB); larger -> 413\n"
      "shutdown_timeout_seconds: 30\n"
      "inference_threads: 0       # compute threads per worker; 0 = all cores\n");
  DaemonConfig want;
  want.model_repository = "/var/lib/ferry/models";
  EXPECT_EQ(c, want);

  DaemonConfig flow = Parse("{port: 9000, host: 10.0.0.1, log_format: json}");
  EXPECT_EQ(flow.port, 9000);
  EXPECT_EQ(flow.host, "10.0.0.1");
  EXPECT_EQ(flow.log_format, "json");
}

struct Bad {
  const char* yaml;
  const char* message_has;  // a substring the message must contain
};

TEST(DaemonConfigTest, RefusesWithAClearMessage) {
  const Bad rows[] = {
      // Structure.
      {"prot: 8501", "unknown key \"prot\" (known keys: model_repository, host, port, poll_seconds, log_level,"},
      {"port: 8501\nport: 8502\n", "config: duplicate key \"port\""},
      {"- port\n", "config: expected a map of keys to values, got a list"},
      {"8501", "config: expected a map of keys to values, got \"8501\""},
      {"null: 1", "config: a key is empty or a YAML null word"},
      {"[port]: 1", "config: keys must be names, got a list"},
      {"port: 1\n---\nport: 2\n", "config: expected one YAML document, got 2"},
      {"port: [1", "config is not valid YAML: line 1"},
      {"a: b: c", "config is not valid YAML: line 1"},
      {"Port: 8501", "unknown key \"Port\""},
      // model_repository.
      {"model_repository:", "model_repository: expected a directory path, got nothing"},
      {"model_repository: \"\"", "model_repository: expected a directory path, got an empty string"},
      {"model_repository: [a, b]", "model_repository: expected a directory path, got a list"},
      {"model_repository: {a: b}", "model_repository: expected a directory path, got a map"},
      {"model_repository: \"a\\0b\"", "model_repository: the path \"a\\x00b\" contains a NUL character"},
      // host.
      {"host:", "host: expected a host name or address, got nothing"},
      {"host: \"\"", "host: expected a host name or address, got \"\""},
      {"host: \"a b\"", "host: expected a host name or address, got \"a b\""},
      {"host: [127.0.0.1]", "host: expected a host name or address, got a list"},
      // port.
      {"port: http", "port: expected an integer in 1..65535, got \"http\""},
      {"port: 0", "port: expected an integer in 1..65535, got 0"},
      {"port: 65536", "port: expected an integer in 1..65535, got 65536"},
      {"port: -1", "port: expected an integer in 1..65535, got -1"},
      {"port: \"8501\"", "port: expected an integer in 1..65535, got the quoted string \"8501\""},
      {"port: 8501.0", "port: expected an integer in 1..65535, got \"8501.0\""},
      {"port: 0x2135", "port: expected an integer in 1..65535, got \"0x2135\""},
      {"port: 08501", "port: expected an integer in 1..65535, got \"08501\""},
      {"port: +8501", "port: expected an integer in 1..65535, got \"+8501\""},
      {"port: 8e3", "port: expected an integer in 1..65535, got \"8e3\""},
      {"port: !!int 8501", "port: expected an integer in 1..65535"},
      {"port:", "port: expected an integer in 1..65535, got nothing"},
      {"port: [8501]", "port: expected an integer in 1..65535, got a list"},
      {"port: 99999999999999999999", "port: \"99999999999999999999\" is out of range (at most 65535)"},
      // poll_seconds.
      {"poll_seconds: -1", "poll_seconds: expected a non-negative integer, got -1"},
      {"poll_seconds: soon", "poll_seconds: expected a non-negative integer, got \"soon\""},
      {"poll_seconds: 1.5", "poll_seconds: expected a non-negative integer, got \"1.5\""},
      {"poll_seconds: 2147483648", "poll_seconds: 2147483648 is out of range (at most 2147483647)"},
      {"poll_seconds: \"5\"", "poll_seconds: expected a non-negative integer, got the quoted string \"5\""},
      // log_level.
      {"log_level: verbose", "log_level: expected one of trace, debug, info, warn, error, off, got \"verbose\""},
      {"log_level: INFO", "log_level: expected one of trace, debug, info, warn, error, off, got \"INFO\""},
      {"log_level: warning", "got \"warning\""},
      {"log_level:", "log_level: expected a log level, got nothing"},
      {"log_level: [info]", "log_level: expected a log level, got a list"},
      // log_format.
      {"log_format: xml", "log_format: expected one of text, json, got \"xml\""},
      {"log_format:", "log_format: expected a log format, got nothing"},
      // Storage and admission limits.
      {"max_versions_per_model: 0", "max_versions_per_model: expected an integer in 1..1000000, got 0"},
      {"max_versions_per_model: 1000001", "max_versions_per_model: expected an integer in 1..1000000, got 1000001"},
      {"max_repository_bytes: -1", "max_repository_bytes: expected a non-negative integer, got -1"},
      {"max_repository_bytes: 10GiB", "max_repository_bytes: expected a non-negative integer, got \"10GiB\""},
      {"max_total_instances: 0", "max_total_instances: expected an integer in 1..16384, got 0"},
      {"max_total_instances: 32400", "max_total_instances: expected an integer in 1..16384, got 32400"},
      {"max_model_memory_bytes: 0", "max_model_memory_bytes: expected a positive integer, got 0"},
      {"max_model_memory_bytes: \"2147483648\"", "max_model_memory_bytes: expected a positive integer, got the quoted"},
      {"max_server_memory_bytes: 18446744073709551616",
       "max_server_memory_bytes: \"18446744073709551616\" is out of range (at most 18446744073709551615)"},
      {"device_memory_limit: 100", "device_memory_limit: expected a map of device ids to bytes"},
      {"device_memory_limit: {cpu: 100}", "device_memory_limit: the CPU's memory is max_server_memory_bytes"},
      {"device_memory_limit: {cuda:0: 0}", "device_memory_limit.cuda:0: expected a positive integer, got 0"},
      {"device_memory_limit: {cuda:0: 1, cuda:0: 2}", "duplicate"},
      {"device_memory_limit: {[a]: 1}", "device_memory_limit: keys must be device ids"},
      // max_request_bytes / max_upload_bytes.
      {"max_request_bytes: 0", "max_request_bytes: expected a positive integer, got 0"},
      {"max_request_bytes: -5", "max_request_bytes: expected a positive integer, got -5"},
      {"max_request_bytes: 64Mi", "max_request_bytes: expected a positive integer, got \"64Mi\""},
      {"max_request_bytes: 18446744073709551616",
       "max_request_bytes: \"18446744073709551616\" is out of range (at most 18446744073709551615)"},
      {"max_upload_bytes: 0", "max_upload_bytes: expected a positive integer, got 0"},
      {"max_upload_bytes: 1e9", "max_upload_bytes: expected a positive integer, got \"1e9\""},
      {"max_upload_bytes: \"1073741824\"", "max_upload_bytes: expected a positive integer, got the quoted string"},
      // shutdown_timeout_seconds.
      {"shutdown_timeout_seconds: -1", "shutdown_timeout_seconds: expected a non-negative integer, got -1"},
      {"shutdown_timeout_seconds: 30s", "shutdown_timeout_seconds: expected a non-negative integer, got \"30s\""},
      {"shutdown_timeout_seconds: {a: 1}", "shutdown_timeout_seconds: expected a non-negative integer, got a map"},
      // inference_threads.
      {"inference_threads: -1", "inference_threads: expected an integer in 0..1024, got -1"},
      {"inference_threads: 1025", "inference_threads: expected an integer in 0..1024, got 1025"},
      {"inference_threads: all", "inference_threads: expected an integer in 0..1024, got \"all\""},
      {"inference_threads: 00", "inference_threads: expected an integer in 0..1024, got \"00\""},
      // The HTTP server's limits.
      {"http_threads: 257", "http_threads: expected an integer in 0..256, got 257"},
      {"max_connections: -1", "max_connections: expected an integer in 0..1048576, got -1"},
      {"max_request_line_bytes: 255", "max_request_line_bytes: expected an integer in 256..1048576, got 255"},
      {"max_header_bytes: 100", "max_header_bytes: expected an integer in 1024..16777216, got 100"},
      {"max_header_count: 0", "max_header_count: expected an integer in 1..10000, got 0"},
      {"max_body_memory_bytes: 0", "max_body_memory_bytes: expected a positive integer, got 0"},
      {"header_timeout_seconds: 0", "header_timeout_seconds: expected an integer in 1..86400, got 0"},
      {"idle_timeout_seconds: 86401", "idle_timeout_seconds: expected an integer in 1..86400, got 86401"},
      {"min_body_bytes_per_second: x", "min_body_bytes_per_second: expected a non-negative integer, got \"x\""},
      {"max_header_bytes: 2048\nmax_request_line_bytes: 4096",
       "max_header_bytes (2048) must be at least max_request_line_bytes (4096)"},
      {"max_body_memory_bytes: 1000", "max_body_memory_bytes (1000) must be at least max_request_bytes (67108864)"},
      {"tls_cert_file: a.pem", "tls_cert_file and tls_key_file go together"},
      {"tls_key_file: a.key", "tls_cert_file and tls_key_file go together"},
      {"tls_client_ca_file: ca.pem", "tls_client_ca_file needs HTTPS"},
      {"tls_cert_file: [a]", "tls_cert_file: expected a file path, got a list"},
      {"tls_require_client_cert: yes", "tls_require_client_cert: expected true or false, got \"yes\""},
      {"tls_require_client_cert: \"true\"", "tls_require_client_cert: expected true or false"},
  };
  for (const Bad& row : rows) {
    auto r = ParseDaemonConfig(row.yaml, "/etc/ferry");
    ASSERT_FALSE(r.ok()) << row.yaml;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << row.yaml;
    EXPECT_NE(r.status().message().find(row.message_has), std::string::npos)
        << row.yaml << "\n  got:  " << r.status().message() << "\n  want: " << row.message_has;
  }
}

TEST(DaemonConfigTest, HostileInputsDoNotCrash) {
  // Deep nesting: yaml-cpp's depth guard throws; it must come back as a Status.
  auto r = ParseDaemonConfig("port: " + std::string(100000, '['), "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  // A long unknown key is cut short in the message (which lists the known keys).
  r = ParseDaemonConfig(std::string(1000, 'k') + ": 1", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 800u);

  // Control characters are escaped, not echoed raw.
  r = ParseDaemonConfig("log_level: \"in\\x01fo\"", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("got \"in\\x01fo\""), std::string::npos) << r.status().message();
}

// A plain scalar cannot start with ',' (YAML 1.2, 7.3.3: ns-plain-first). yaml-cpp 0.7's LoadAll read such a text
// forever, taking memory as it went (found by tests/fuzz/daemon_config_fuzzer).
TEST(DaemonConfigTest, AStrayCommaIsNotYaml) {
  for (const char* text : {",", ",port: 8501", "port: 8501\n---\n,"}) {
    auto r = ParseDaemonConfig(text, "/");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(r.status().message().find("config is not valid YAML: line "), std::string::npos)
        << text << " -> " << r.status().message();
  }
}

TEST(DaemonConfigTest, ResolvesModelRepositoryAgainstBaseDir) {
  const std::string cwd = Cwd();
  struct Row {
    const char* path;
    const char* base;
    std::string want;
  };
  const Row rows[] = {
      {"models", "/etc/ferry", "/etc/ferry/models"},
      {"../examples/models", "/src/ferry/config", "/src/ferry/examples/models"},
      {"./a/./b/", "/etc/ferry/", "/etc/ferry/a/b"},
      {"/abs/models/", "/etc/ferry", "/abs/models"},
      {"/abs//x/../models", "/etc/ferry", "/abs/models"},
      {"/", "/etc/ferry", "/"},
      {"models", "conf", cwd + "/conf/models"},  // a relative base is itself taken from the current directory
      {"models", "", cwd + "/models"},
      {".", "/etc/ferry", "/etc/ferry"},
  };
  for (const Row& row : rows) {
    DaemonConfig c = Parse(std::string("model_repository: \"") + row.path + "\"", row.base);
    EXPECT_EQ(c.model_repository, row.want) << row.path << " against " << row.base;
  }
}

// ---- ResolveDaemonConfig --------------------------------------------------------------------------------------

// A scratch directory with config files, removed at the end of the test.
class ResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ferry_daemon_config_test_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `text` to dir_/name and returns the absolute path.
  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

  static DaemonConfig Resolve(const std::vector<std::string>& args) {
    auto r = ResolveDaemonConfig(args);
    EXPECT_TRUE(r.ok()) << fmt::format("{}", fmt::join(args, " ")) << " -> " << r.status().ToString();
    return r.ok() ? *r : DaemonConfig();
  }

  static std::string Error(const std::vector<std::string>& args) {
    auto r = ResolveDaemonConfig(args);
    EXPECT_FALSE(r.ok()) << fmt::format("{}", fmt::join(args, " "));
    if (r.ok()) return "";
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    return r.status().message();
  }

  fs::path dir_;
};

TEST_F(ResolveTest, FlagsAloneGiveDefaultsPlusFlags) {
  DaemonConfig want;
  want.model_repository = "/srv/models";
  EXPECT_EQ(Resolve({"--model-repository", "/srv/models"}), want);

  want.host = "0.0.0.0";
  want.port = 9000;
  want.log_level = "debug";
  want.log_format = "json";
  want.poll_seconds = 5;
  EXPECT_EQ(Resolve({"--model-repository", "/srv/models", "--host", "0.0.0.0", "--port", "9000", "--log-level", "debug",
                     "--log-format", "json", "--poll-seconds", "5"}),
            want);
  // The --flag=value form, mixed with the other.
  EXPECT_EQ(Resolve({"--model-repository=/srv/models", "--host=0.0.0.0", "--port=9000", "--log-level=debug",
                     "--log-format", "json", "--poll-seconds=5"}),
            want);
  // A value may itself contain '=' and may start with a single '-'.
  EXPECT_EQ(Resolve({"--model-repository=/srv/a=b"}).model_repository, "/srv/a=b");
  EXPECT_EQ(Resolve({"--model-repository", "-models"}).model_repository, Cwd() + "/-models");
}

TEST_F(ResolveTest, RelativeModelRepositoryFlagUsesTheCurrentDirectory) {
  EXPECT_EQ(Resolve({"--model-repository", "models"}).model_repository, Cwd() + "/models");
  EXPECT_EQ(Resolve({"--model-repository=./a/../b/"}).model_repository, Cwd() + "/b");
}

TEST_F(ResolveTest, ConfigFileThenFlagsOverIt) {
  const std::string config = Write("ferryd.yaml",
                                   "model_repository: /from/file\n"
                                   "host: 10.1.1.1\n"
                                   "port: 9000\n"
                                   "log_level: warn\n"
                                   "max_upload_bytes: 1000\n"
                                   "inference_threads: 4\n");
  DaemonConfig file_only;
  file_only.model_repository = "/from/file";
  file_only.host = "10.1.1.1";
  file_only.port = 9000;
  file_only.log_level = "warn";
  file_only.max_upload_bytes = 1000;
  file_only.inference_threads = 4;
  EXPECT_EQ(Resolve({"--config", config}), file_only);

  // Flags win wherever --config stands on the line; keys the flags do not name keep the file's values.
  DaemonConfig want = file_only;
  want.model_repository = "/from/flag";
  want.port = 9100;
  want.log_level = "error";
  EXPECT_EQ(Resolve({"--port", "9100", "--config", config, "--log-level=error", "--model-repository", "/from/flag"}),
            want);
  EXPECT_EQ(Resolve({"--config=" + config, "--port=9100", "--log-level", "error", "--model-repository=/from/flag"}),
            want);
}

TEST_F(ResolveTest, ConfigRelativePathsFollowTheFile) {
  const std::string config = Write("etc/ferryd.yaml", "model_repository: ../models\n");
  EXPECT_EQ(Resolve({"--config", config}).model_repository, (dir_ / "models").string());

  // A relative --config is found from the current directory; the repository still follows the file.
  const std::string relative = fs::relative(config, fs::current_path()).string();
  ASSERT_FALSE(fs::path(relative).is_absolute());
  EXPECT_EQ(Resolve({"--config", relative}).model_repository, (dir_ / "models").string());
}

TEST_F(ResolveTest, EmptyConfigFileNeedsTheFlag) {
  const std::string config = Write("empty.yaml", "");
  EXPECT_EQ(Error({"--config", config}),
            "no model repository: pass --model-repository DIR or set model_repository in the config");
  DaemonConfig want;
  want.model_repository = "/m";
  EXPECT_EQ(Resolve({"--config", config, "--model-repository", "/m"}), want);
}

TEST_F(ResolveTest, NoDefaultConfigPathIsRead) {
  EXPECT_EQ(Error({}), "no model repository: pass --model-repository DIR or set model_repository in the config");
  EXPECT_EQ(Error({"--port", "9000"}),
            "no model repository: pass --model-repository DIR or set model_repository in the config");
}

TEST_F(ResolveTest, BadConfigFile) {
  const std::string missing = (dir_ / "nope.yaml").string();
  std::string e = Error({"--config", missing});
  EXPECT_NE(e.find("--config: cannot read \"" + missing + "\": "), std::string::npos) << e;
  EXPECT_NE(e.find("No such file or directory"), std::string::npos) << e;

  e = Error({"--config", dir_.string()});
  EXPECT_NE(e.find("--config: cannot read \"" + dir_.string() + "\": it is a directory"), std::string::npos) << e;

  e = Error({"--config", "/dev/null"});
  EXPECT_NE(e.find("--config: cannot read \"/dev/null\": not a regular file"), std::string::npos) << e;

  e = Error({"--config="});
  EXPECT_EQ(e, "--config: expected a file path, got an empty string");

  const std::string big = Write("big.yaml", "# " + std::string(2 << 20, 'x') + "\n");
  e = Error({"--config", big});
  EXPECT_NE(e.find("larger than 1048576 bytes"), std::string::npos) << e;

  // A parse error names the file and the key.
  const std::string bad = Write("bad.yaml", "model_repository: /m\nport: http\n");
  e = Error({"--config", bad, "--port", "9000"});
  EXPECT_EQ(e, "config file \"" + bad + "\": port: expected an integer in 1..65535, got \"http\"");
}

TEST_F(ResolveTest, BadCommandLines) {
  // Flag errors come before the missing-repository check, so no row needs --model-repository.
  struct Row {
    std::vector<std::string> args;
    const char* message_has;
  };
  const Row rows[] = {
      {{"--prot", "9000"}, "unknown flag \"--prot\" (see ferryd serve --help)"},
      {{"--prot=9000"}, "unknown flag \"--prot\""},
      {{"-p", "9000"}, "unknown flag \"-p\""},
      {{"--help"}, "unknown flag \"--help\""},
      {{"--model_repository", "/m"}, "unknown flag \"--model_repository\""},
      {{"serve", "--port", "1"}, "unexpected argument \"serve\": serve takes only flags"},
      {{"--model-repository", "/m", "extra"}, "unexpected argument \"extra\""},
      {{"--port"}, "--port: missing value"},
      {{"--model-repository", "/m", "--port"}, "--port: missing value"},
      {{"--config", "--port", "9000"}, "--config: missing value"},
      {{"--port", "9000", "--port", "9001"}, "--port: given more than once"},
      {{"--port=9000", "--port", "9000"}, "--port: given more than once"},
      {{"--port", "http"}, "--port: expected an integer in 1..65535, got \"http\""},
      {{"--port", "0"}, "--port: expected an integer in 1..65535, got 0"},
      {{"--port", "70000"}, "--port: expected an integer in 1..65535, got 70000"},
      {{"--port", "-1"}, "--port: expected an integer in 1..65535, got -1"},
      {{"--port= "}, "--port: expected an integer in 1..65535, got \" \""},
      {{"--port="}, "--port: expected an integer in 1..65535, got \"\""},
      {{"--port", "08501"}, "--port: expected an integer in 1..65535, got \"08501\""},
      {{"--port", "+80"}, "--port: expected an integer in 1..65535, got \"+80\""},
      {{"--port", "99999999999999999999"}, "--port: \"99999999999999999999\" is out of range (at most 65535)"},
      {{"--poll-seconds", "-5"}, "--poll-seconds: expected a non-negative integer, got -5"},
      {{"--poll-seconds", "1.5"}, "--poll-seconds: expected a non-negative integer, got \"1.5\""},
      {{"--poll-seconds", "3000000000"}, "--poll-seconds: 3000000000 is out of range (at most 2147483647)"},
      {{"--log-level", "verbose"},
       "--log-level: expected one of trace, debug, info, warn, error, off, got \"verbose\""},
      {{"--log-level="}, "--log-level: expected one of trace, debug, info, warn, error, off, got \"\""},
      {{"--log-format", "xml"}, "--log-format: expected one of text, json, got \"xml\""},
      {{"--host="}, "--host: expected a host name or address, got \"\""},
      {{"--model-repository="}, "--model-repository: expected a directory path, got an empty string"},
  };
  for (const Row& row : rows) {
    const std::string e = Error(row.args);
    EXPECT_NE(e.find(row.message_has), std::string::npos)
        << fmt::format("{}", fmt::join(row.args, " ")) << "\n  got:  " << e << "\n  want: " << row.message_has;
  }
}

TEST_F(ResolveTest, UnusualArgumentsDoNotCrash) {
  EXPECT_NE(Error({""}).find("unexpected argument \"\""), std::string::npos);
  EXPECT_NE(Error({"-"}).find("unexpected argument \"-\""), std::string::npos);
  EXPECT_NE(Error({"--"}).find("unknown flag \"--\""), std::string::npos);
  EXPECT_NE(Error({"="}).find("unexpected argument \"=\""), std::string::npos);
  EXPECT_NE(Error({"--=x"}).find("unknown flag \"--\""), std::string::npos);
  EXPECT_NE(Error({std::string("--model-repository=a\0b", 22)}).find("contains a NUL character"), std::string::npos);
}

TEST(DaemonConfigTest, ShippedConfigIsTheDefaults) {
  const std::string path = std::string(FERRY_SOURCE_DIR) + "/config/ferryd.yaml";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = ParseDaemonConfig(text, std::string(FERRY_SOURCE_DIR) + "/config");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  DaemonConfig want;
  want.model_repository = (fs::path(FERRY_SOURCE_DIR) / "examples" / "models").lexically_normal().string();
  EXPECT_EQ(*r, want);
  EXPECT_TRUE(fs::is_directory(r->model_repository)) << r->model_repository;

  // The documented keys are exactly the parser's keys, in its order.
  std::vector<std::string> keys;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#' || line[0] == ' ') continue;
    keys.push_back(line.substr(0, line.find(':')));
  }
  EXPECT_EQ(keys, std::vector<std::string>(std::begin(kDaemonConfigKeys), std::end(kDaemonConfigKeys)));

  // Through the command line too.
  auto resolved = ResolveDaemonConfig({"--config", path});
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(*resolved, want);
}

TEST(DaemonConfigTest, Usage) {
  const std::string usage = ServeUsage();
  for (const char* flag : {"--config FILE", "--model-repository DIR", "--host H", "--port P", "--log-level L",
                           "--log-format F", "--poll-seconds N", "--help"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(usage.find("(default 8501)"), std::string::npos);
  EXPECT_NE(usage.find("trace|debug|info|warn|error|off (default info)"), std::string::npos) << usage;
  EXPECT_EQ(usage.back(), '\n');

  EXPECT_TRUE(ServeHelpRequested({"--help"}));
  EXPECT_TRUE(ServeHelpRequested({"--port", "1", "-h"}));
  EXPECT_FALSE(ServeHelpRequested({}));
  EXPECT_FALSE(ServeHelpRequested({"--port", "1"}));
}

}  // namespace
}  // namespace ferry
