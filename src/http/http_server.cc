// The cpprestsdk adapter. Everything that can throw (uri parsing, listener open/close, reply, body reads) is
// caught here. Every pplx task we start gets a continuation that calls get() inside try/catch: an unobserved
// task exception makes pplx raise(SIGTRAP) on Linux, which kills the daemon.
#include "http/http_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ferry::http {
namespace {

namespace wh = web::http;
using wh::experimental::listener::http_listener;
using wh::experimental::listener::http_listener_config;

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A JSON string literal for an error message (our messages are ASCII; control characters are escaped anyway).
std::string ErrorBody(const std::string& message) {
  std::string out = "{\"error\": \"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = ErrorBody(message);
  return r;
}

// Sends `response` on `request`. Never throws; failures (client gone, listener closed) are dropped because the
// client can no longer be told anyway.
// Returns a task that completes (never with an exception) once the response is written or has failed.
pplx::task<void> SendReply(wh::http_request request, HttpResponse response) {
  try {
    const int status = (response.status >= 100 && response.status <= 599) ? response.status : 500;
    wh::http_response out(static_cast<wh::status_code>(status));
    std::string content_type = "application/json";
    for (auto& [name, value] : response.headers) {
      const std::string lower = ToLower(name);
      if (lower == "content-type") {
        content_type = value;
      } else if (lower != "content-length" && lower != "transfer-encoding") {
        out.headers().add(name, value);
      }
    }
    out.set_body(std::move(response.body), content_type);
    return request.reply(out).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  } catch (...) {
    return pplx::task_from_result();
  }
}

// One request the handler has been given and not yet answered. The mutex makes "answer once" hold between the
// handler's Responder and Stop().
struct Pending {
  explicit Pending(wh::http_request r) : request(std::move(r)) {}
  std::mutex mu;
  bool answered = false;
  wh::http_request request;

  // Returns the send task, or an already completed task when the request was answered before.
  pplx::task<void> Answer(HttpResponse response) {
    std::lock_guard<std::mutex> lock(mu);
    if (answered) return pplx::task_from_result();
    answered = true;
    return SendReply(request, std::move(response));
  }
};

// Shared by the listener callback, body-read continuations and Responders, so each may outlive the HttpServer.
struct State {
  HttpServerOptions options;
  Handler handler;

  std::mutex mu;
  bool stopped = false;                                            // GUARDED_BY(mu)
  uint64_t next_id = 0;                                            // GUARDED_BY(mu)
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending;  // GUARDED_BY(mu)
  // Answered requests whose reply is still being written: Stop waits for them before closing the sockets.
  std::unordered_map<uint64_t, pplx::task<void>> sending;  // GUARDED_BY(mu)

  void OnRequest(wh::http_request request, const std::shared_ptr<State>& self);
  void Dispatch(wh::http_request request, std::string body, const std::shared_ptr<State>& self);
};

// Reads the body in fixed-size pieces and keeps at most `limit` bytes of it; past the limit it keeps reading and
// discards. cpprest writes no response until the whole declared body has arrived, so the body must be drained
// either way; draining rather than buffering keeps an oversized upload from costing its size in memory.
struct BodyReader : std::enable_shared_from_this<BodyReader> {
  static constexpr size_t kPiece = 64 * 1024;

  BodyReader(wh::http_request r, std::shared_ptr<State> s, bool answered, size_t max_bytes)
      : request(std::move(r)), state(std::move(s)), already_answered(answered), limit(max_bytes), scratch(kPiece) {}

  wh::http_request request;
  std::shared_ptr<State> state;
  bool already_answered;  // an early reply (413 by Content-Length) was sent: drain only
  size_t limit;           // this request's body limit
  bool too_big = false;
  uint64_t received = 0;
  std::string body;
  std::vector<uint8_t> scratch;

  void Next() {
    auto self = shared_from_this();
    // While the body is kept, cpprest's stream copies straight into it (the one copy between the socket buffer
    // and the tensors that may alias the body); past the limit, pieces go to the scratch and are dropped.
    const bool keep = !already_answered && !too_big;
    uint8_t* dst = scratch.data();
    if (keep) {
      body.resize(static_cast<size_t>(received) + kPiece);
      dst = reinterpret_cast<uint8_t*>(body.data()) + received;
    }
    request.body().streambuf().getn(dst, kPiece).then([self, keep](pplx::task<size_t> t) {
      size_t n = 0;
      try {
        n = t.get();
      } catch (const std::exception& e) {
        if (!self->already_answered) {
          SendReply(self->request, ErrorResponse(400, std::string("failed to read the request body: ") + e.what()));
        }
        return;
      } catch (...) {
        if (!self->already_answered) SendReply(self->request, ErrorResponse(400, "failed to read the request body"));
        return;
      }
      if (keep) self->body.resize(static_cast<size_t>(self->received) + n);
      if (n == 0) return self->Finish();
      self->received += n;
      if (keep && self->received > self->limit) {
        self->too_big = true;
        std::string().swap(self->body);
      }
      self->Next();
    });
  }

  void Finish() {
    if (already_answered) return;
    if (too_big) {
      SendReply(request, TooLarge(received, limit));
      return;
    }
    state->Dispatch(request, std::move(body), state);
  }

  static HttpResponse TooLarge(uint64_t size, size_t limit) {
    HttpResponse r =
        ErrorResponse(413, fmt::format("request body of {} bytes exceeds the limit of {} bytes", size, limit));
    r.headers["Connection"] = "close";
    return r;
  }
};

void State::OnRequest(wh::http_request request, const std::shared_ptr<State>& self) {
  try {
    bool answered = false;
    size_t limit = options.max_body_bytes;
    if (options.body_limit) {
      std::string path;
      try {
        path = web::uri::decode(request.request_uri().path());
      } catch (const std::exception&) {
        path = request.request_uri().path();  // Dispatch answers the bad encoding
      }
      limit = options.body_limit(request.method(), path);
    }
    const auto& headers = request.headers();
    auto it = headers.find("Content-Length");  // http_headers compares names case-insensitively
    if (it != headers.end()) {
      const std::string& text = it->second;
      uint64_t length = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
      if (ec != std::errc() || end != text.data() + text.size()) {
        HttpResponse r = ErrorResponse(400, "invalid Content-Length header");
        r.headers["Connection"] = "close";
        SendReply(request, std::move(r));
        answered = true;
      } else if (length > limit) {
        // Queued now, written by cpprest once the body has been drained.
        SendReply(request, BodyReader::TooLarge(length, limit));
        answered = true;
      }
    }
    auto reader = std::make_shared<BodyReader>(request, self, answered, limit);
    // One piece of slack: the reader resizes a piece ahead of what arrived, and must not reallocate at the end.
    if (!answered && it != headers.end()) reader->body.reserve(request.headers().content_length() + BodyReader::kPiece);
    reader->Next();
  } catch (const std::exception& e) {
    SendReply(request, ErrorResponse(500, std::string("internal error: ") + e.what()));
  } catch (...) {
    SendReply(request, ErrorResponse(500, "internal error"));
  }
}

void State::Dispatch(wh::http_request request, std::string body, const std::shared_ptr<State>& self) {
  HttpRequest req;
  try {
    req.method = request.method();
    req.path = web::uri::decode(request.request_uri().path());
    req.query = request.request_uri().query();
    for (const auto& [name, value] : request.headers()) req.headers[ToLower(name)] = value;
  } catch (const std::exception& e) {
    SendReply(request, ErrorResponse(400, std::string("malformed request: ") + e.what()));
    return;
  }
  req.body = std::move(body);

  auto pend = std::make_shared<Pending>(request);
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) {
      pend->Answer(ErrorResponse(503, "server is shutting down"));
      return;
    }
    id = next_id++;
    pending.emplace(id, pend);
  }
  std::weak_ptr<State> weak = self;
  Responder responder = [pend, weak, id](HttpResponse response) {
    std::shared_ptr<State> state = weak.lock();
    if (state) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->pending.erase(id);
    }
    pplx::task<void> sent = pend->Answer(std::move(response));
    if (!state || sent.is_done()) return;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->sending.emplace(id, sent);
    }
    // SendReply's task never fails, and this continuation never throws: no unobserved task error.
    sent.then([weak, id]() {
      if (auto s = weak.lock()) {
        std::lock_guard<std::mutex> lock(s->mu);
        s->sending.erase(id);
      }
    });
  };
  try {
    handler(std::move(req), responder);
  } catch (const std::exception& e) {
    responder(ErrorResponse(500, std::string("handler failed: ") + e.what()));
  } catch (...) {
    responder(ErrorResponse(500, "handler failed"));
  }
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<State> state;
  std::unique_ptr<http_listener> listener;
  std::mutex stop_mu;
  bool stopped = false;  // GUARDED_BY(stop_mu)
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Handler handler) {
  if (options.port == 0) return InvalidArgument("port must be 1..65535 (cpprestsdk cannot bind port 0)");
  if (options.host.empty()) return InvalidArgument("host must not be empty");
  if (!handler) return InvalidArgument("handler must not be empty");
  if (options.request_timeout_s <= 0) return InvalidArgument("request_timeout_s must be positive");
  if (options.stop_grace_ms < 0) return InvalidArgument("stop_grace_ms must not be negative");

  if (options.io_threads < 0) return InvalidArgument("io_threads must not be negative");
  if (options.io_threads > 0) {
    static std::once_flag pool_once;
    std::call_once(pool_once, [&] {
      try {
        crossplat::threadpool::initialize_with_threads(static_cast<size_t>(options.io_threads));
      } catch (...) {
        // Already initialized by an earlier cpprest user: the pool keeps its size.
      }
    });
  }
  auto impl = std::make_unique<Impl>();
  impl->state = std::make_shared<State>();
  impl->state->options = options;
  impl->state->handler = std::move(handler);

  const std::string address = fmt::format("http://{}:{}", options.host, options.port);
  try {
    http_listener_config config;
    config.set_timeout(std::chrono::seconds(options.request_timeout_s));
    impl->listener = std::make_unique<http_listener>(web::uri(address), config);
  } catch (const std::exception& e) {
    return InvalidArgument("invalid listen address {}: {}", address, e.what());
  }
  std::weak_ptr<State> weak = impl->state;
  // One handler for every method: routing is the caller's business.
  impl->listener->support([weak](wh::http_request request) {
    if (auto state = weak.lock()) {
      state->OnRequest(std::move(request), state);
    } else {
      SendReply(std::move(request), ErrorResponse(503, "server is shutting down"));
    }
  });
  try {
    impl->listener->open().wait();
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnavailable, fmt::format("cannot listen on {}: {}", address, e.what()));
  } catch (...) {
    return Status(StatusCode::kUnavailable, fmt::format("cannot listen on {}", address));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  std::lock_guard<std::mutex> stop_lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;

  // Answer what the handlers still hold before closing: close() waits for open connections, and a request that
  // is never answered would keep its connection open until the client or the timeout gives up.
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> unanswered;
  {
    std::lock_guard<std::mutex> lock(impl_->state->mu);
    impl_->state->stopped = true;
    unanswered.swap(impl_->state->pending);
  }
  // reply() only queues the bytes: wait (bounded) until they are written, or close() would cut them off.
  std::vector<pplx::task<void>> sends;
  for (auto& [id, pend] : unanswered) sends.push_back(pend->Answer(ErrorResponse(503, "server is shutting down")));
  {
    // Replies already answered but still being written finish too (a large response in flight at SIGTERM).
    std::lock_guard<std::mutex> lock(impl_->state->mu);
    for (auto& [id, task] : impl_->state->sending) sends.push_back(task);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(impl_->state->options.stop_grace_ms);
  for (auto& send : sends) {
    while (!send.is_done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  try {
    impl_->listener->close().wait();
  } catch (...) {
    // Closing a listener whose socket already failed throws; it is closed either way.
  }
}

uint16_t HttpServer::port() const { return impl_->state->options.port; }

}  // namespace ferry::http
