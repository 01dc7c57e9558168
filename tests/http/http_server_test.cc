// Loopback tests for HttpServer: real sockets, a hand-written HTTP/1.1 client, so what is checked is the bytes
// on the wire. Expected statuses and framing come from RFC 9110/9112.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "zlib_util.h"

namespace ferry::http {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A connected loopback socket, or -1.
int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};  // a hung server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct ClientResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Sends raw bytes, reads one response (Content-Length framed, or up to EOF). nullopt on any socket failure.
std::optional<ClientResponse> RoundTrip(uint16_t port, const std::string& raw) {
  int fd = Connect(port);
  if (fd < 0) return std::nullopt;
  size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer early (413) and close; still read its answer
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[8192];
  size_t header_end = std::string::npos;
  std::optional<size_t> content_length;
  ClientResponse resp;
  for (;;) {
    if (header_end != std::string::npos && content_length && data.size() >= header_end + 4 + *content_length) break;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
      size_t line_end = data.find("\r\n");
      std::string status_line = data.substr(0, line_end);  // "HTTP/1.1 200 OK"
      if (status_line.size() < 12) break;
      resp.status = std::stoi(status_line.substr(9, 3));
      size_t pos = line_end + 2;
      while (pos < header_end) {
        size_t eol = data.find("\r\n", pos);
        std::string line = data.substr(pos, eol - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          resp.headers[Lower(line.substr(0, colon))] = value;
        }
        pos = eol + 2;
      }
      if (auto it = resp.headers.find("content-length"); it != resp.headers.end()) {
        content_length = std::stoul(it->second);
      }
    }
  }
  ::close(fd);
  if (header_end == std::string::npos || resp.status == 0) return std::nullopt;
  resp.body = data.substr(header_end + 4);
  if (content_length) {
    if (resp.body.size() < *content_length) return std::nullopt;
    resp.body.resize(*content_length);
  }
  return resp;
}

std::string MakeRequest(const std::string& method, const std::string& target, const std::string& body,
                        const std::vector<std::string>& extra_headers = {}) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : extra_headers) raw += h + "\r\n";
  raw += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return raw;
}

// Starts on a port the kernel picks.
std::unique_ptr<HttpServer> StartServer(Handler handler, size_t max_body_bytes = 1 << 20,
                                        const std::function<void(HttpServerOptions&)>& tune = {}) {
  HttpServerOptions options;
  options.port = 0;
  options.max_body_bytes = max_body_bytes;
  if (tune) tune(options);
  auto server = HttpServer::Start(options, std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
    return nullptr;
  }
  return std::move(server).value();
}

Handler Echo() {
  return [](HttpRequest req, Responder respond) {
    HttpResponse r;
    r.body = req.body;
    respond(std::move(r));
  };
}

TEST(HttpServerTest, RequestFieldsReachHandlerAndResponseComesBack) {
  std::mutex mu;
  std::optional<HttpRequest> seen;
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = req;
    }
    HttpResponse r;
    r.status = 201;
    r.headers["X-Ferry"] = "yes";
    r.headers["Content-Type"] = "text/plain";
    r.body = std::string("hel\0lo", 6);  // binary-safe
    respond(std::move(r));
  });
  ASSERT_NE(server, nullptr);
  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/v1/models/my%20model:predict?a=1&b=%20c", "{\"x\": 1}",
                                                    {"X-Custom-Header: Some Value"}));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 201);
  EXPECT_EQ(resp->headers["x-ferry"], "yes");
  EXPECT_EQ(resp->headers["content-type"], "text/plain");
  EXPECT_EQ(resp->body, std::string("hel\0lo", 6));

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->method, "POST");
  EXPECT_EQ(seen->path, "/v1/models/my model:predict");
  EXPECT_EQ(seen->query, "a=1&b=%20c");
  EXPECT_EQ(seen->headers["x-custom-header"], "Some Value");
  EXPECT_EQ(seen->headers["host"], "127.0.0.1");
  EXPECT_EQ(seen->body, "{\"x\": 1}");
}

TEST(HttpServerTest, GetWithoutBodyAndDefaultJsonContentType) {
  std::atomic<int> calls{0};
  std::string method;
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    method = req.method;
    ++calls;
    HttpResponse r;
    r.body = "{\"ok\": true}";
    respond(std::move(r));
  });
  ASSERT_NE(server, nullptr);
  auto resp = RoundTrip(server->port(), "GET /v1/models/m HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->headers["content-type"], "application/json");
  EXPECT_EQ(resp->body, "{\"ok\": true}");
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(method, "GET");
}

TEST(HttpServerTest, AsyncResponseFromAnotherThread) {
  std::mutex mu;
  std::vector<std::thread> workers;
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    workers.emplace_back([body = req.body, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      HttpResponse r;
      r.status = 202;
      r.body = "later:" + body;
      respond(std::move(r));
      respond(HttpResponse{});  // a second answer is ignored
    });
  });
  ASSERT_NE(server, nullptr);
  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/x", "abc"));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 202);
  EXPECT_EQ(resp->body, "later:abc");
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : workers) t.join();
}

TEST(HttpServerTest, OversizedBodyGets413WithoutCallingHandler) {
  std::atomic<int> calls{0};
  auto server = StartServer(
      [&](HttpRequest req, Responder respond) {
        ++calls;
        respond(HttpResponse{});
      },
      /*max_body_bytes=*/1024);
  ASSERT_NE(server, nullptr);

  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/big", std::string(4096, 'x')));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 413);
  EXPECT_EQ(resp->headers["content-type"], "application/json");
  EXPECT_NE(resp->body.find("\"error\""), std::string::npos) << resp->body;
  EXPECT_EQ(calls.load(), 0);

  // Chunked: no Content-Length to check up front, so the size received is what counts.
  std::string chunked =
      "POST /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "400\r\n" +
      std::string(1024, 'a') + "\r\n" + "400\r\n" + std::string(1024, 'b') + "\r\n0\r\n\r\n";
  resp = RoundTrip(server->port(), chunked);
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 413);
  EXPECT_EQ(calls.load(), 0);

  // Exactly at the limit is fine.
  resp = RoundTrip(server->port(), MakeRequest("POST", "/ok", std::string(1024, 'x')));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, MalformedContentLengthGets400) {
  auto server = StartServer(Echo());
  ASSERT_NE(server, nullptr);
  auto resp =
      RoundTrip(server->port(), "POST /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 12abc\r\n\r\n");
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 400);
  EXPECT_NE(resp->body.find("Content-Length"), std::string::npos) << resp->body;
  // The server still works afterwards.
  resp = RoundTrip(server->port(), MakeRequest("POST", "/x", "fine"));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->body, "fine");
}

TEST(HttpServerTest, ConcurrentRequestsAreAllAnswered) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    ++calls;
    HttpResponse r;
    r.body = req.path + "|" + req.body;
    respond(std::move(r));
  });
  ASSERT_NE(server, nullptr);
  constexpr int kThreads = 8, kRequests = 20;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kRequests; ++i) {
        std::string body = "t" + std::to_string(t) + "i" + std::to_string(i);
        auto resp = RoundTrip(server->port(), MakeRequest("POST", "/c/" + std::to_string(t), body));
        if (resp && resp->status == 200 && resp->body == "/c/" + std::to_string(t) + "|" + body) ++good;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(good.load(), kThreads * kRequests);
  EXPECT_EQ(calls.load(), kThreads * kRequests);
}

TEST(HttpServerTest, HandlerExceptionGets500) {
  auto server = StartServer([](HttpRequest, Responder) { throw std::runtime_error("boom"); });
  ASSERT_NE(server, nullptr);
  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/x", ""));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 500);
  EXPECT_NE(resp->body.find("boom"), std::string::npos);
}

TEST(HttpServerTest, StopThenConnectFailsAndStopIsIdempotent) {
  auto server = StartServer(Echo());
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  ASSERT_TRUE(RoundTrip(port, MakeRequest("POST", "/x", "a")).has_value());
  server->Stop();
  int fd = Connect(port);
  EXPECT_LT(fd, 0) << "connect succeeded after Stop";
  if (fd >= 0) ::close(fd);
  server->Stop();
  server.reset();  // destructor after Stop is fine too
}

TEST(HttpServerTest, UnansweredRequestGets503AtStop) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Responder> kept;
  auto server = StartServer([&](HttpRequest, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    kept.push_back(std::move(respond));  // never answers
    cv.notify_all();
  });
  ASSERT_NE(server, nullptr);
  std::optional<ClientResponse> resp;
  std::thread client([&] { resp = RoundTrip(server->port(), MakeRequest("POST", "/hang", "x")); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !kept.empty(); }));
  }
  server->Stop();
  client.join();
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 503);
  server.reset();
  kept[0](HttpResponse{});  // a Responder outliving the server is a harmless no-op
}

TEST(HttpServerTest, StartRejectsBadOptions) {
  HttpServerOptions options;
  options.port = 0;
  EXPECT_EQ(HttpServer::Start(options, Handler()).status().code(), StatusCode::kInvalidArgument);
  options.threads = 0;
  EXPECT_EQ(HttpServer::Start(options, Echo()).status().code(), StatusCode::kInvalidArgument);
  options.threads = 1;
  options.host = "not an address";
  EXPECT_EQ(HttpServer::Start(options, Echo()).status().code(), StatusCode::kInvalidArgument);
  options.host = "127.0.0.1";
  options.max_header_bytes = options.max_request_line_bytes - 1;
  EXPECT_EQ(HttpServer::Start(options, Echo()).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, PortZeroReportsTheBoundPort) {
  auto server = StartServer(Echo());
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->port(), 0);
  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/x", "hi"));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->body, "hi");
}

TEST(HttpServerTest, PortInUseIsUnavailable) {
  // Hold a listening socket on the port; the bind must fail and come back as a Status.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  HttpServerOptions options;
  options.port = ntohs(addr.sin_port);
  auto r = HttpServer::Start(options, Echo());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  ::close(fd);
}

}  // namespace
}  // namespace ferry::http

namespace ferry::http {
namespace {
// An oversized body is refused from its Content-Length before it is read (or, chunked, as soon as the limit is
// passed); the server drains what the client still sends for a moment, so the 413 is read and not reset.
TEST(HttpServerTest, LargeOversizedBodyIsRefusedAndConnectionClosed) {
  std::atomic<int> calls{0};
  auto server = StartServer(
      [&](HttpRequest, Responder respond) {
        ++calls;
        respond(HttpResponse{});
      },
      /*max_body_bytes=*/1024);
  ASSERT_NE(server, nullptr);
  for (bool declared : {true, false}) {
    std::string raw;
    if (declared) {
      raw = MakeRequest("POST", "/big", std::string(8 << 20, 'x'));
    } else {  // chunked: 128 chunks of 64 KiB
      raw = "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
      for (int i = 0; i < 128; ++i) raw += "10000\r\n" + std::string(65536, 'y') + "\r\n";
      raw += "0\r\n\r\n";
    }
    auto resp = RoundTrip(server->port(), raw);
    ASSERT_TRUE(resp.has_value()) << (declared ? "content-length" : "chunked");
    EXPECT_EQ(resp->status, 413);
    EXPECT_EQ(Lower(resp->headers["connection"]), "close");
    EXPECT_NE(resp->body.find("1024"), std::string::npos) << resp->body;
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerTest, LargeBodyWithinLimitArrivesIntact) {
  auto server = StartServer(Echo(), /*max_body_bytes=*/16 << 20);
  ASSERT_NE(server, nullptr);
  std::string body(10 << 20, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 131) >> 3);
  auto resp = RoundTrip(server->port(), MakeRequest("POST", "/big", body));
  ASSERT_TRUE(resp.has_value());
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(resp->body == body) << resp->body.size();
}
}  // namespace
}  // namespace ferry::http

// ---------------------------------------------------------------------------------------------------------------
// Limits, framing and codings, on persistent connections.

namespace ferry::http {
namespace {

using testing::ZlibCompress;
using testing::ZlibDecompress;

// One client connection for several requests; reads Content-Length framed responses one at a time.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : fd_(Connect(port)) {}
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  bool Send(std::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // The next response; a 1xx (or any reply with head_only) is returned with its head only. nullopt when the
  // connection ends first.
  std::optional<ClientResponse> Read(bool head_only = false) {
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    ClientResponse resp;
    resp.status = std::stoi(buf_.substr(9, 3));
    size_t pos = buf_.find("\r\n") + 2;
    while (pos < head_end) {
      size_t eol = buf_.find("\r\n", pos);
      std::string line = buf_.substr(pos, eol - pos);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      resp.headers[Lower(line.substr(0, colon))] = value;
      pos = eol + 2;
    }
    buf_.erase(0, head_end + 4);
    if (resp.status < 200 || head_only) return resp;
    size_t length = resp.headers.count("content-length") ? std::stoul(resp.headers["content-length"]) : 0;
    while (buf_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    resp.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return resp;
  }

  // True when the server closes the connection (after anything still buffered) within the socket timeout.
  bool ClosedByPeer() {
    buf_.clear();
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
    }
  }

  int fd() const { return fd_; }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
};

std::string Patterned(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>("ferry serves models "[i % 20] + (i / 997) % 3);
  return s;
}

TEST(HttpServerLimits, PipelinedRequestsAreAnsweredInOrder) {
  // The first request is answered last by its handler; the replies must still come in request order.
  std::mutex mu;
  std::vector<std::thread> workers;
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    std::lock_guard<std::mutex> lock(mu);
    int delay_ms = req.path == "/a" ? 100 : 0;
    workers.emplace_back([delay_ms, path = req.path, respond] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      respond(HttpResponse{200, {}, path});
    });
  });
  ASSERT_NE(server, nullptr);
  RawClient c(server->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
             "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /d HTTP/1.1\r\nHost: x\r\n\r\n"));
  // A client that ends a POST with an extra CRLF (RFC 9112 2.2 says to ignore empty lines before a request).
  ASSERT_TRUE(c.Send("\r\nGET /e HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (const char* want : {"/a", "/b", "/c", "/d", "/e"}) {
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << want;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, want);
  }
  std::lock_guard<std::mutex> lock(mu);
  for (auto& t : workers) t.join();
}

// A request that arrives in pieces, split inside and between header lines, with a body full of bare LFs: the
// header checks (bare LF, request-line length) look at header bytes only, however the parser consumed them.
TEST(HttpServerLimits, HeaderInPiecesAndBodyWithLineFeeds) {
  auto server = StartServer(Echo(), 1 << 20, [](HttpServerOptions& o) { o.max_request_line_bytes = 64; });
  ASSERT_NE(server, nullptr);
  const std::string body = "a\nb\n\nc\r\n\n";
  const std::string raw = "POST /pieces HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(200, 'v') +
                          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t split : {size_t{5}, size_t{24}, size_t{30}, raw.size() - body.size() - 2, raw.size() - body.size() - 1,
                       raw.size() - body.size(), raw.size() - 3}) {
    RawClient c(server->port());
    ASSERT_TRUE(c.Send(raw.substr(0, split)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(c.Send(raw.substr(split)));
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << split;
    EXPECT_EQ(r->status, 200) << split << ": " << r->body;
    EXPECT_EQ(r->body, body) << split;
  }
}

TEST(HttpServerLimits, Expect100ContinueIsAnsweredBeforeTheBody) {
  auto server = StartServer(Echo());
  ASSERT_NE(server, nullptr);
  RawClient c(server->port());
  ASSERT_TRUE(c.Send("PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto interim = c.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.Send("hello"));
  auto final_reply = c.Read();
  ASSERT_TRUE(final_reply.has_value());
  EXPECT_EQ(final_reply->status, 200);
  EXPECT_EQ(final_reply->body, "hello");
}

TEST(HttpServerLimits, Expect100ContinueOverTheLimitGetsTheFinalStatusInstead) {
  auto server = StartServer(Echo(), /*max_body_bytes=*/100);
  ASSERT_NE(server, nullptr);
  RawClient c(server->port());
  ASSERT_TRUE(c.Send("PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.ClosedByPeer());

  RawClient d(server->port());
  ASSERT_TRUE(d.Send("PUT /up HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 1\r\n\r\nx"));
  r = d.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 417);
}

TEST(HttpServerLimits, GzipAndDeflateBodiesAreDecoded) {
  auto server = StartServer(Echo(), /*max_body_bytes=*/1 << 20);
  ASSERT_NE(server, nullptr);
  const std::string body = Patterned(200000);
  struct Case {
    const char* coding;
    int window_bits;  // zlib's: 31 gzip, 15 zlib ("deflate" as RFC 9110 defines it), -15 raw deflate
  };
  for (const Case& k : {Case{"gzip", 31}, Case{"deflate", 15}, Case{"deflate", -15}, Case{"x-gzip", 31}}) {
    auto r = RoundTrip(server->port(), MakeRequest("POST", "/z", ZlibCompress(body, k.window_bits),
                                                   {std::string("Content-Encoding: ") + k.coding}));
    ASSERT_TRUE(r.has_value()) << k.coding;
    EXPECT_EQ(r->status, 200) << k.coding << " " << r->body;
    EXPECT_TRUE(r->body == body) << k.coding << ": " << r->body.size() << " bytes";
  }
}

TEST(HttpServerLimits, CompressionBombAndBadCodingsAreRefused) {
  std::atomic<int> calls{0};
  auto server = StartServer(
      [&](HttpRequest req, Responder respond) {
        ++calls;
        respond(HttpResponse{200, {}, "ok"});
      },
      /*max_body_bytes=*/1 << 20);
  ASSERT_NE(server, nullptr);
  // 64 MiB of zeros compress to about 64 KiB: the decoded size is what counts.
  const std::string bomb = ZlibCompress(std::string(64 << 20, '\0'), 31);
  ASSERT_LT(bomb.size(), 1u << 20);
  auto r = RoundTrip(server->port(), MakeRequest("POST", "/z", bomb, {"Content-Encoding: gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413) << r->body;
  r = RoundTrip(server->port(), MakeRequest("POST", "/z", "abc", {"Content-Encoding: br"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 415);
  r = RoundTrip(server->port(), MakeRequest("POST", "/z", "abc", {"Content-Encoding: gzip, gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 415);
  r = RoundTrip(server->port(), MakeRequest("POST", "/z", "not gzip at all", {"Content-Encoding: gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  std::string truncated = ZlibCompress(Patterned(5000), 31);
  truncated.resize(truncated.size() / 2);
  r = RoundTrip(server->port(), MakeRequest("POST", "/z", truncated, {"Content-Encoding: gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerLimits, ResponsesAreCompressedWhenAcceptEncodingAsks) {
  const std::string big = Patterned(10000);
  auto server = StartServer([&](HttpRequest req, Responder respond) {
    respond(HttpResponse{200, {}, req.path == "/small" ? std::string("tiny") : big});
  });
  ASSERT_NE(server, nullptr);
  auto r = RoundTrip(server->port(), MakeRequest("GET", "/big", "", {"Accept-Encoding: gzip, deflate"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers["content-encoding"], "gzip");
  EXPECT_EQ(r->headers["vary"], "Accept-Encoding");
  EXPECT_LT(r->body.size(), big.size());
  EXPECT_TRUE(ZlibDecompress(r->body, 31) == big);

  r = RoundTrip(server->port(), MakeRequest("GET", "/big", "", {"Accept-Encoding: gzip;q=0, deflate;q=0.5"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers["content-encoding"], "deflate");
  EXPECT_TRUE(ZlibDecompress(r->body, 15) == big);

  for (const char* header : {"Accept-Encoding: identity", "Accept-Encoding: gzip;q=0", "X-None: 1"}) {
    r = RoundTrip(server->port(), MakeRequest("GET", "/big", "", {header}));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->headers.count("content-encoding"), 0u) << header;
    EXPECT_TRUE(r->body == big) << header;
  }
  r = RoundTrip(server->port(), MakeRequest("GET", "/small", "", {"Accept-Encoding: gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers.count("content-encoding"), 0u);
  EXPECT_EQ(r->body, "tiny");
}

TEST(HttpServerLimits, RequestLineAndHeaderLimits) {
  std::vector<int> refused;
  std::mutex mu;
  auto server = StartServer(Echo(), 1 << 20, [&](HttpServerOptions& o) {
    o.max_request_line_bytes = 1024;
    o.max_header_bytes = 4096;
    o.max_header_count = 20;
    o.on_refusal = [&](const Refusal& r) {
      std::lock_guard<std::mutex> lock(mu);
      refused.push_back(r.status);
    };
  });
  ASSERT_NE(server, nullptr);
  auto r = RoundTrip(server->port(), "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 414);
  // An endless request line is refused as soon as the limit passes, not when it ends.
  RawClient endless(server->port());
  ASSERT_TRUE(endless.Send("GET /" + std::string(1100, 'a')));
  r = endless.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 414);
  EXPECT_TRUE(endless.ClosedByPeer());

  r = RoundTrip(server->port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(5000, 'b') + "\r\n\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  RawClient endless_header(server->port());
  ASSERT_TRUE(endless_header.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'b')));
  r = endless_header.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);

  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 25; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  r = RoundTrip(server->port(), many + "\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 431);
  // Just under every limit is fine.
  std::string fine = "GET /" + std::string(900, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  for (int i = 0; i < 17; ++i) fine += "X-" + std::to_string(i) + ": v\r\n";
  r = RoundTrip(server->port(), fine + "\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(refused, (std::vector<int>{414, 414, 431, 431, 431}));
}

// RFC 9112 section 6.3 and 11: framing a server must refuse, each with 400 (or 501) and a closed connection,
// and without calling the handler.
TEST(HttpServerLimits, MalformedFramingIsRefusedAndClosed) {
  std::atomic<int> calls{0};
  auto server = StartServer([&](HttpRequest, Responder respond) {
    ++calls;
    respond(HttpResponse{});
  });
  ASSERT_NE(server, nullptr);
  struct Case {
    const char* what;
    std::string raw;
    int status;
  };
  const std::vector<Case> cases = {
      {"negative length", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"overflowing length", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
      {"maximal length", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n", 413},
      {"repeated length", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", 400},
      {"conflicting lengths", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"length list", "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\nab", 400},
      {"length and chunked",
       "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"chunked and length",
       "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n", 400},
      {"chunk size 2^64", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
       400},
      {"negative chunk", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n", 400},
      {"chunk not hex", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"not ending in chunked", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"unknown coding", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"chunked in 1.0", "POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"bare LF request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
      {"endless empty lines", "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", 400},
      {"bare LF header", "GET / HTTP/1.1\r\nHost: x\n\n", 400},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"bad percent escape", "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"percent NUL", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"space in name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400},
      {"bad version", "GET / HTTP/9.9x\r\nHost: x\r\n\r\n", 400},
      {"TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405},
      {"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
  };
  for (const Case& k : cases) {
    RawClient c(server->port());
    ASSERT_TRUE(c.Send(k.raw)) << k.what;
    auto r = c.Read();
    ASSERT_TRUE(r.has_value()) << k.what;
    EXPECT_EQ(r->status, k.status) << k.what << ": " << r->body;
    EXPECT_EQ(Lower(r->headers["connection"]), "close") << k.what;
    EXPECT_TRUE(c.ClosedByPeer()) << k.what;
    EXPECT_EQ(r->body.find("TRACE / HTTP"), std::string::npos) << "the request is never echoed";
  }
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerLimits, HeadGetsHeadersOnlyAndTheConnectionStaysUsable) {
  auto server = StartServer([](HttpRequest req, Responder respond) { respond(HttpResponse{200, {}, "abc"}); });
  ASSERT_NE(server, nullptr);
  RawClient c(server->port());
  ASSERT_TRUE(c.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.Read(/*head_only=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-length"], "3");  // what GET would send, per RFC 9110 9.3.2
  auto get = c.Read();  // starts right after the HEAD reply's head: no body bytes in between
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "abc");
}

TEST(HttpServerLimits, ResponseHeadersWithLineBreaksAreDropped) {
  auto server = StartServer([](HttpRequest, Responder respond) {
    HttpResponse r;
    r.headers["X-Good"] = "fine";
    r.headers["X-Bad"] = "a\r\nSet-Cookie: stolen=1";
    r.headers["Content-Length"] = "999";
    r.body = "ok";
    respond(std::move(r));
  });
  ASSERT_NE(server, nullptr);
  auto r = RoundTrip(server->port(), MakeRequest("GET", "/", ""));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->headers["x-good"], "fine");
  EXPECT_EQ(r->headers.count("x-bad"), 0u);
  EXPECT_EQ(r->headers.count("set-cookie"), 0u);
  EXPECT_EQ(r->headers["content-length"], "2");
  EXPECT_EQ(r->body, "ok");
}

TEST(HttpServerLimits, SlowHeaderSlowBodyAndIdleConnectionsAreClosed) {
  std::atomic<int> calls{0};
  auto server = StartServer(
      [&](HttpRequest, Responder respond) {
        ++calls;
        respond(HttpResponse{});
      },
      1 << 20,
      [](HttpServerOptions& o) {
        o.header_timeout_ms = 300;
        o.body_timeout_ms = 300;
        o.min_body_bytes_per_second = 1000;
        o.idle_timeout_ms = 300;
      });
  ASSERT_NE(server, nullptr);
  RawClient slow_header(server->port());
  ASSERT_TRUE(slow_header.Send("GET / HTTP/1.1\r\nHost: x\r\n"));
  auto r = slow_header.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(slow_header.ClosedByPeer());

  RawClient slow_body(server->port());
  ASSERT_TRUE(slow_body.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  // 20 bytes per 100 ms is 200 bytes/s, under the minimum of 1000: refused within about 0.4 s.
  std::optional<ClientResponse> slow_reply;
  for (int i = 0; i < 50; ++i) {
    pollfd p{slow_body.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) break;  // the server answered
    if (!slow_body.Send(std::string(20, 'b'))) break;
  }
  slow_reply = slow_body.Read();
  ASSERT_TRUE(slow_reply.has_value());
  EXPECT_EQ(slow_reply->status, 408);

  RawClient idle(server->port());
  EXPECT_TRUE(idle.ClosedByPeer());
  EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServerLimits, ConnectionsBeyondTheMaximumAreClosedAtOnce) {
  auto server = StartServer(Echo(), 1 << 20, [](HttpServerOptions& o) { o.max_connections = 3; });
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server->port()));
    ASSERT_TRUE(held.back()->Send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nk"));
  }
  // Each held connection had its request answered (so the server has surely accepted it) and stays open.
  for (auto& c : held) ASSERT_TRUE(c->Read().has_value());
  RawClient extra(server->port());
  auto r = extra.Read();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->headers["retry-after"], "1");
  EXPECT_TRUE(extra.ClosedByPeer());
  held.clear();
  for (int i = 0; i < 200 && server->connections() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto ok = RoundTrip(server->port(), MakeRequest("POST", "/x", "again"));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->body, "again");
}

TEST(HttpServerLimits, BodiesOverTheMemoryBudgetGet503) {
  auto server = StartServer(Echo(), 1 << 20, [](HttpServerOptions& o) { o.max_body_memory_bytes = 1 << 20; });
  ASSERT_NE(server, nullptr);
  // A holds 800 KB of the 1 MiB budget while its body is still arriving.
  RawClient a(server->port());
  ASSERT_TRUE(a.Send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 800000\r\n\r\n" + std::string(1000, 'a')));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = RoundTrip(server->port(), MakeRequest("POST", "/b", std::string(800000, 'b')));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->headers["retry-after"], "1");
  ASSERT_TRUE(a.Send(std::string(799000, 'a')));
  auto ra = a.Read();
  ASSERT_TRUE(ra.has_value());
  EXPECT_EQ(ra->status, 200);
  EXPECT_EQ(ra->body.size(), 800000u);
  // A's body is released with its request: B fits now.
  r = RoundTrip(server->port(), MakeRequest("POST", "/b", std::string(800000, 'b')));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServerLimits, SpooledBodiesGoToAFileNotMemory) {
  char dir_template[] = "/tmp/ferry-spool-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::mutex mu;
  std::string seen_path, seen_content, seen_body;
  uint64_t seen_size = 0;
  auto server = StartServer(
      [&](HttpRequest req, Responder respond) {
        std::lock_guard<std::mutex> lock(mu);
        seen_body = req.body;
        if (req.body_file) {
          seen_path = req.body_file->path();
          seen_size = req.body_file->size();
          FILE* f = std::fopen(seen_path.c_str(), "rb");
          if (f != nullptr) {
            char buf[65536];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) seen_content.append(buf, n);
            std::fclose(f);
          }
        }
        respond(HttpResponse{201, {}, "stored"});
      },
      1 << 20,
      [&](HttpServerOptions& o) {
        o.max_body_memory_bytes = 1024;  // far less than the upload: it must not be held in memory
        o.body_policy = [&](std::string_view method, std::string_view path) {
          if (path == "/upload") return BodyPolicy{8 << 20, dir};
          return BodyPolicy{1024, ""};
        };
      });
  ASSERT_NE(server, nullptr);
  const std::string payload = Patterned(3 << 20);
  auto r = RoundTrip(server->port(), MakeRequest("PUT", "/upload", payload));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201) << r->body;
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(seen_body.empty());
    EXPECT_EQ(seen_size, payload.size());
    EXPECT_TRUE(seen_content == payload);
    EXPECT_EQ(seen_path.rfind(dir + "/.ferry-body-", 0), 0u) << seen_path;
  }
  // The request (and with it the file) is gone once the handler let go of it: the reply can reach the client
  // before the handler has returned, so wait for that (bounded).
  for (int i = 0; i < 500 && ::access(seen_path.c_str(), F_OK) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(::access(seen_path.c_str(), F_OK), 0);
  // A gzip upload is decoded into the file.
  r = RoundTrip(server->port(), MakeRequest("PUT", "/upload", ZlibCompress(payload, 31), {"Content-Encoding: gzip"}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 201) << r->body;
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(seen_content.size(), 2 * payload.size());
  }
  // Over the spooled route's limit: refused, and no file is left behind.
  r = RoundTrip(server->port(), MakeRequest("PUT", "/upload", std::string((8 << 20) + 1, 'x')));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  std::string chunked = "PUT /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 130; ++i) chunked += "10000\r\n" + std::string(65536, 'c') + "\r\n";
  chunked += "0\r\n\r\n";
  r = RoundTrip(server->port(), chunked);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  server->Stop();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "spool files left in " << dir;
  std::filesystem::remove_all(dir);
}

TEST(HttpServerTest, TlsFilesThatDoNotLoadRefuseToStartAndPlainServersCannotReloadTls) {
  HttpServerOptions options;
  options.port = 0;
  options.tls.cert_file = "/nonexistent/server.pem";
  options.tls.key_file = "/nonexistent/server.key";
  auto refused = HttpServer::Start(options, Echo());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("/nonexistent/server.pem"), std::string::npos);

  options.tls = TlsOptions{};
  options.tls.key_file = "/nonexistent/server.key";  // a key without a certificate is a mistake, not plain HTTP
  EXPECT_FALSE(HttpServer::Start(options, Echo()).ok());

  auto plain = StartServer(Echo());
  ASSERT_NE(plain, nullptr);
  TlsOptions tls;
  tls.cert_file = "/nonexistent/server.pem";
  tls.key_file = "/nonexistent/server.key";
  EXPECT_EQ(plain->ReloadTls(tls).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ferry::http
