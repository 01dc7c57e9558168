// Loopback tests for HttpServer: real sockets, a hand-written HTTP/1.1 client, so what is checked is the bytes
// on the wire, not cpprest's own view of them.
#include "http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// A port that was free a moment ago (the kernel picks it); Start retries if someone took it meanwhile.
uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
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

// Starts on a free loopback port, retrying when another process grabs it between probe and bind.
std::unique_ptr<HttpServer> StartServer(Handler handler, size_t max_body_bytes = 1 << 20) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    HttpServerOptions options;
    options.port = FreePort();
    options.max_body_bytes = max_body_bytes;
    if (options.port == 0) continue;
    auto server = HttpServer::Start(options, handler);
    if (server.ok()) return std::move(server).value();
  }
  ADD_FAILURE() << "could not start the server on any free port";
  return nullptr;
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
  // cpprest does not validate Content-Length itself; the adapter does, before reading any body.
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
  auto r = HttpServer::Start(options, Echo());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  options.port = FreePort();
  EXPECT_EQ(HttpServer::Start(options, Handler()).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, PortInUseIsUnavailable) {
  // Hold a listening socket on the port; cpprest's bind must fail and come back as a Status.
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
// cpprest writes no response before the whole declared body has arrived, so a 413 cannot short-cut the upload;
// the adapter drains it in pieces (memory stays bounded) and closes the connection afterwards.
TEST(HttpServerTest, LargeOversizedBodyIsDrainedAndConnectionClosed) {
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
