// Fuzzes the strict ferryd.yaml parser (src/main/daemon_config, over yaml-cpp).
//
// Properties, beyond "no crash, no UB, no leak, no exception": every error is InvalidArgument; a parsed config
// keeps the ranges daemon_config.h states for each key, and its paths are absolute and normalized.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "main/daemon_config.h"

namespace ferry {
namespace {

bool OneOf(const std::string& value, const auto& choices) {
  for (std::string_view c : choices) {
    if (value == c) return true;
  }
  return false;
}

bool AbsoluteNormal(const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() && p.lexically_normal() == p;
}

void CheckContract(const DaemonConfig& c, const std::string& text) {
  const std::string where = "config:\n" + text.substr(0, 512);
  FUZZ_CHECK(c.model_repository.empty() || AbsoluteNormal(c.model_repository), "model_repository " + where);
  FUZZ_CHECK(c.tokens_file.empty() || std::filesystem::path(c.tokens_file).is_absolute(), "tokens_file " + where);
  FUZZ_CHECK(!c.host.empty(), "host " + where);
  for (unsigned char ch : c.host) FUZZ_CHECK(ch > ' ' && ch != 0x7f, "host " + where);
  FUZZ_CHECK(c.port >= 1 && c.port <= 65535, "port " + where);
  FUZZ_CHECK(c.poll_seconds >= 0, "poll_seconds " + where);
  FUZZ_CHECK(OneOf(c.log_level, kLogLevels) && OneOf(c.log_format, kLogFormats), "log " + where);
  FUZZ_CHECK(c.max_request_bytes > 0 && c.max_upload_bytes > 0, "body limits " + where);
  FUZZ_CHECK(c.shutdown_timeout_seconds >= 0, "shutdown_timeout_seconds " + where);
  FUZZ_CHECK(c.inference_threads >= 0 && c.inference_threads <= kMaxInferenceThreads, "inference_threads " + where);
  FUZZ_CHECK(c.http_threads >= 0 && c.http_threads <= 256, "http_threads " + where);
  FUZZ_CHECK(c.max_connections >= 0 && c.max_connections <= 1048576, "max_connections " + where);
  FUZZ_CHECK(c.max_request_line_bytes >= 256 && c.max_request_line_bytes <= (1u << 20), "request line " + where);
  FUZZ_CHECK(
      c.max_header_bytes >= 1024 && c.max_header_bytes <= (16u << 20) && c.max_header_bytes >= c.max_request_line_bytes,
      "max_header_bytes " + where);
  FUZZ_CHECK(c.max_header_count >= 1 && c.max_header_count <= 10000, "max_header_count " + where);
  FUZZ_CHECK(c.max_body_memory_bytes >= c.max_request_bytes, "max_body_memory_bytes " + where);
  for (int t : {c.header_timeout_seconds, c.body_timeout_seconds, c.idle_timeout_seconds}) {
    FUZZ_CHECK(t >= 1 && t <= 86400, "timeouts " + where);
  }
}

}  // namespace
}  // namespace ferry

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Result<DaemonConfig> config = ParseDaemonConfig(text, "/srv/ferry/config");
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == StatusCode::kInvalidArgument, config.status());
    return 0;
  }
  CheckContract(*config, text);
  return 0;
}
