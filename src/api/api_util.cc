// Helpers shared by the handlers: status mapping, replies, signatures, the hand-off to the worker.
#include <charconv>
#include <system_error>
#include <thread>

#include "api/api_internal.h"
#include "protocol/tfserving_codec.h"

namespace ferry::api {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kUnimplemented:
      return 501;
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kDeadlineExceeded:
      return 504;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

http::HttpResponse JsonReply(int status, std::string body) {
  http::HttpResponse r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.body = std::move(body);
  return r;
}

http::HttpResponse ErrorReply(int status, std::string_view message) {
  return JsonReply(status, protocol::EncodeTfsError(message));
}

http::HttpResponse StatusReply(const Status& status) {
  http::HttpResponse r = ErrorReply(HttpStatusFor(status.code()), status.message());
  if (status.code() == StatusCode::kResourceExhausted) r.headers["Retry-After"] = "1";
  return r;
}

namespace {

protocol::TensorSpec SpecOf(const TensorInfo& s) {
  protocol::TensorSpec spec;
  spec.name = s.name;
  spec.dtype = s.dtype;
  spec.has_shape = s.has_shape;
  for (const DimInfo& d : s.shape) spec.shape.push_back(d.size >= 0 ? d.size : -1);
  return spec;
}

}  // namespace

std::vector<protocol::TensorSpec> InputSpecs(const ServedVersion& version) {
  std::vector<protocol::TensorSpec> out;
  for (const TensorInfo& s : version.inputs) out.push_back(SpecOf(s));
  return out;
}

std::vector<protocol::TensorSpec> OutputSpecs(const ServedVersion& version) {
  std::vector<protocol::TensorSpec> out;
  for (const TensorInfo& s : version.outputs) out.push_back(SpecOf(s));
  return out;
}

void RunOnWorker(Server* server, VersionRef version, std::map<std::string, Tensor> inputs,
                 std::function<http::HttpResponse(Result<std::map<std::string, Tensor>>)> finish,
                 http::Responder respond, std::optional<int64_t> timeout_us) {
  InferRequest request;
  request.served = std::move(version);
  request.inputs = std::move(inputs);
  request.timeout_us = timeout_us;
  Status queued =
      server->Infer(std::move(request), [finish, respond](Result<std::map<std::string, Tensor>> outputs,
                                                          const InferTiming&) { respond(finish(std::move(outputs))); });
  if (!queued.ok()) respond(StatusReply(queued));
}

void RunOffIoThread(const Call& call, std::function<void(Call&)> fn) {
  Call copy = call;  // shares the request (shared_request) and the responder
  const bool queued = call.operations != nullptr && call.operations->Submit([copy, fn = std::move(fn)]() mutable {
    try {
      fn(copy);
    } catch (const std::exception& e) {
      copy.respond(ErrorReply(500, fmt::format("the operation failed: {}", e.what())));
    } catch (...) {
      copy.respond(ErrorReply(500, "the operation failed"));
    }
  });
  if (!queued) {
    http::HttpResponse r = ErrorReply(503, "too many repository operations are waiting; retry later");
    r.headers["Retry-After"] = "1";
    call.respond(std::move(r));
  }
}

std::optional<int64_t> RequestTimeoutUs(const http::HttpRequest& request) {
  auto it = request.headers.find("x-request-timeout-us");
  if (it == request.headers.end()) return std::nullopt;
  std::optional<int64_t> v = ParseInt64(it->second);
  if (!v || *v < 0) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseInt64(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace ferry::api
