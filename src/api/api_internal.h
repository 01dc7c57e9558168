// Shared by the handler files of src/api; not part of the module's interface.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/operation_queue.h"
#include "ferry/server.h"
#include "ferry/status.h"
#include "ferry/tensor.h"
#include "http/http_types.h"
#include "protocol/tensor_spec.h"

namespace ferry::api {

// What a handler learned about the request, for the access line.
struct RequestInfo {
  std::string protocol;
  std::string model;
  std::string version;
  std::string token;
  bool management = false;
};

// Everything a handler needs. `respond` is already wrapped for the access log.
struct Call {
  Server* server = nullptr;
  const http::HttpRequest* request = nullptr;
  http::Responder respond;
  std::shared_ptr<RequestInfo> info;
  bool shutting_down = false;
  std::string server_version;
  std::shared_ptr<const http::HttpRequest> shared_request;  // lets decoded tensors alias the body (no copy)
  OperationQueue* operations = nullptr;                     // runs repository operations (RunOffIoThread)
};

int HttpStatusFor(StatusCode code);
http::HttpResponse JsonReply(int status, std::string body);
http::HttpResponse ErrorReply(int status, std::string_view message);
// The reply for a failed Status: its HTTP status, {"error": message}; 503s from a full queue get Retry-After.
http::HttpResponse StatusReply(const Status& status);

// The version's signature in the codecs' terms (-1 for symbolic dims).
std::vector<protocol::TensorSpec> InputSpecs(const ServedVersion& version);
std::vector<protocol::TensorSpec> OutputSpecs(const ServedVersion& version);

// Queues `inputs` on `version` (Server::Infer); `finish` turns the outputs (or the error: the engine's, 504 for a
// deadline that passed in the queue) into the reply and runs on the engine thread. Answers at once when the
// request cannot be queued (503 + Retry-After when the queue is full, 400 over max_batch_size). The version is
// held until the reply is sent.
void RunOnWorker(Server* server, VersionRef version, std::map<std::string, Tensor> inputs,
                 std::function<http::HttpResponse(Result<std::map<std::string, Tensor>>)> finish,
                 http::Responder respond, std::optional<int64_t> timeout_us);

// The X-Request-Timeout-Us header (microseconds a request may wait in the queue), when present and valid.
std::optional<int64_t> RequestTimeoutUs(const http::HttpRequest& request);

// Runs fn(call) on the repository operation queue (call.operations): for operations (uploads, deletes, config,
// load/unload) that load models and may take seconds, so they never hold one of the few HTTP I/O threads. Answers
// 503 with Retry-After when the queue is full. An exception from fn is answered with 500.
void RunOffIoThread(const Call& call, std::function<void(Call&)> fn);

// Parses a whole string as a decimal int64 (versions, header values); nullopt when it is not one or overflows.
std::optional<int64_t> ParseInt64(std::string_view text);

// The handlers, one per route (route parameters already split out).
void TfsStatus(Call& call, const std::string& model, std::optional<std::string> version,
               std::optional<std::string> label);
void TfsMetadata(Call& call, const std::string& model, std::optional<std::string> version,
                 std::optional<std::string> label);
void TfsPredict(Call& call, const std::string& model, std::optional<std::string> version,
                std::optional<std::string> label);

void KsServerMetadata(Call& call);
void KsHealth(Call& call, bool ready_probe);
void KsModelMetadata(Call& call, const std::string& model, std::optional<std::string> version);
void KsModelReady(Call& call, const std::string& model, std::optional<std::string> version);
void KsInfer(Call& call, const std::string& model, std::optional<std::string> version);
void KsRepositoryIndex(Call& call);
// The statistics extension: every AVAILABLE version, one model's, or one version's.
void KsStatistics(Call& call, std::optional<std::string> model, std::optional<std::string> version);
void KsRepositoryLoad(Call& call, const std::string& model, bool load);

void PutVersion(Call& call, const std::string& model, std::optional<std::string> version);
void DeleteVersion(Call& call, const std::string& model, const std::string& version);
void GetConfig(Call& call, const std::string& model);
void PutConfig(Call& call, const std::string& model);

}  // namespace ferry::api
