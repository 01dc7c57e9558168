// HttpServer: the I/O threads, the acceptor and Stop. The protocol work is Connection's (connection.cc).
#include "http/http_server.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <thread>

#include "http/connection.h"
#include "http/tls_context.h"

namespace ferry::http {

using internal::Clock;
using internal::Connection;
using internal::Loop;
using internal::ServerCore;
using internal::tcp;
namespace net = internal::net;

namespace {

constexpr auto kMinAcceptBackoff = std::chrono::milliseconds(10);
constexpr auto kMaxAcceptBackoff = std::chrono::seconds(1);
// What a connection beyond max_connections gets before it is closed.
const std::string& BusyReply() {
  static const std::string reply = [] {
    const std::string body = "{\"error\": \"too many connections; try again later\"}";
    return fmt::format(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Retry-After: 1\r\nConnection: close\r\n\r\n{}",
        body.size(), body);
  }();
  return reply;
}

// How often each loop checks its connections' deadlines: a tenth of the shortest timeout, 10..250 ms.
Clock::duration SweepInterval(const HttpServerOptions& o) {
  const int shortest = std::min({o.header_timeout_ms, o.body_timeout_ms, o.idle_timeout_ms});
  return std::chrono::milliseconds(std::clamp(shortest / 10, 10, 250));
}

// True for accept errors that say the process or system is out of a resource (descriptors, buffers, memory):
// retrying at once would only spin.
bool ResourceError(const boost::system::error_code& ec) {
  return ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == net::error::no_buffer_space || ec == net::error::no_memory;
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<ServerCore> core;
  std::vector<std::unique_ptr<Loop>> loops;
  std::unique_ptr<tcp::acceptor> acceptor;  // used on loops[0]'s thread only
  std::unique_ptr<net::steady_timer> backoff;
  Clock::duration backoff_delay = kMinAcceptBackoff;
  bool backing_off = false;  // an accept resource error was reported and not yet followed by a success
  size_t next_loop = 0;
  uint16_t port = 0;
  std::vector<std::thread> threads;
  Mutex stop_mu;
  bool stopped GUARDED_BY(stop_mu) = false;

  void Accept();
  void OnAccept(const boost::system::error_code& ec, tcp::socket socket, Loop* loop);
  void Sweep(Loop* loop);
};

void HttpServer::Impl::Accept() {
  if (core->stopping.load()) return;
  Loop* loop = loops[next_loop].get();
  next_loop = (next_loop + 1) % loops.size();
  acceptor->async_accept(loop->context, [this, loop](const boost::system::error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket), loop);
  });
}

void HttpServer::Impl::OnAccept(const boost::system::error_code& ec, tcp::socket socket, Loop* loop) {
  if (ec == net::error::operation_aborted || core->stopping.load()) return;
  if (ec) {
    if (ResourceError(ec)) {
      // Out of descriptors: the pending connection stays in the backlog, so accepting again at once would spin.
      if (!backing_off)
        core->Refused(Refusal{0, "cannot accept connections: " + ec.message() + "; backing off", "", "", ""});
      backing_off = true;
      backoff->expires_after(backoff_delay);
      backoff_delay = std::min<Clock::duration>(backoff_delay * 2, kMaxAcceptBackoff);
      backoff->async_wait([this](const boost::system::error_code& wec) {
        if (!wec) Accept();
      });
      return;
    }
    return Accept();  // the client gave up before we accepted it (ECONNABORTED etc.)
  }
  backing_off = false;
  backoff_delay = kMinAcceptBackoff;
  if (core->connections.fetch_add(1, std::memory_order_relaxed) >= core->options.max_connections) {
    core->connections.fetch_sub(1, std::memory_order_relaxed);
    // Refused at once, without reading: one non-blocking send of a 503 (plain HTTP only: a TLS client would
    // read it as a broken handshake), then close.
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    if (!core->options.tls.enabled()) socket.send(net::buffer(BusyReply()), 0, ignored);
    std::string peer;
    tcp::endpoint remote = socket.remote_endpoint(ignored);
    if (!ignored) peer = remote.address().to_string() + ":" + std::to_string(remote.port());
    socket.close(ignored);
    core->Refused(Refusal{503, fmt::format("too many connections (max_connections {})", core->options.max_connections),
                          peer, "", ""});
    return Accept();
  }
  // The connection belongs to `loop`: start it there. (Made here, so that it is counted down even if the loop
  // stops before it runs.)
  auto connection = std::make_shared<Connection>(core, loop, std::move(socket), core->tls());
  net::post(loop->context, [loop, c = std::move(connection)] {
    c->loop_index = loop->connections.size();
    loop->connections.push_back(c);
    c->Start();
  });
  Accept();
}

void HttpServer::Impl::Sweep(Loop* loop) {
  const Clock::time_point now = Clock::now();
  // A copy: CheckDeadline may close connections, which removes them from the loop's list.
  std::vector<std::shared_ptr<Connection>> all = loop->connections;
  for (const auto& c : all) c->CheckDeadline(now);
  loop->sweep->expires_after(SweepInterval(core->options));
  loop->sweep->async_wait([this, loop](const boost::system::error_code& ec) {
    if (!ec) Sweep(loop);
  });
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Handler handler) {
  if (options.host.empty()) return InvalidArgument("host must not be empty");
  if (!handler) return InvalidArgument("handler must not be empty");
  if (options.threads < 1 || options.threads > 256)
    return InvalidArgument("threads must be 1..256, got {}", options.threads);
  if (options.header_timeout_ms <= 0 || options.body_timeout_ms <= 0 || options.idle_timeout_ms <= 0) {
    return InvalidArgument("timeouts must be positive");
  }
  if (options.stop_grace_ms < 0) return InvalidArgument("stop_grace_ms must not be negative");
  if (options.max_connections < 1) return InvalidArgument("max_connections must be positive");
  if (options.max_request_line_bytes < 16 || options.max_header_bytes < options.max_request_line_bytes) {
    return InvalidArgument("max_header_bytes must be at least max_request_line_bytes (at least 16)");
  }
  if (options.max_header_count < 1) return InvalidArgument("max_header_count must be positive");

  std::shared_ptr<net::ssl::context> tls;
  if (options.tls.enabled() || !options.tls.key_file.empty() || !options.tls.client_ca_file.empty()) {
    Result<std::shared_ptr<net::ssl::context>> made = internal::MakeServerTlsContext(options.tls);
    if (!made.ok()) return made.status();
    tls = std::move(*made);
  }

  auto impl = std::make_unique<Impl>();
  impl->core = std::make_shared<ServerCore>(options, std::move(handler));
  impl->core->set_tls(std::move(tls));
  for (int i = 0; i < options.threads; ++i) {
    impl->loops.push_back(std::make_unique<Loop>());
    impl->loops.back()->sweep = std::make_unique<net::steady_timer>(impl->loops.back()->context);
  }
  boost::system::error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) return InvalidArgument("invalid listen address \"{}\": {}", options.host, ec.message());
  const tcp::endpoint endpoint(address, options.port);
  impl->acceptor = std::make_unique<tcp::acceptor>(impl->loops[0]->context);
  impl->backoff = std::make_unique<net::steady_timer>(impl->loops[0]->context);
  auto fail = [&](const char* what) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("cannot listen on {}:{}: {}: {}", options.host, options.port, what, ec.message()));
  };
  if (impl->acceptor->open(endpoint.protocol(), ec); ec) return fail("socket");
  if (impl->acceptor->set_option(tcp::acceptor::reuse_address(true), ec); ec) return fail("SO_REUSEADDR");
  if (impl->acceptor->bind(endpoint, ec); ec) return fail("bind");
  if (impl->acceptor->listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  impl->port = impl->acceptor->local_endpoint(ec).port();
  if (ec) return fail("getsockname");

  Impl* raw = impl.get();
  net::post(impl->loops[0]->context, [raw] { raw->Accept(); });
  for (auto& loop : impl->loops) {
    Loop* l = loop.get();
    net::post(l->context, [raw, l] { raw->Sweep(l); });
    impl->threads.emplace_back([l] {
      // Handlers never throw out of a completion (Connection catches), but a stray exception must not end the
      // loop while the server is up.
      for (;;) {
        try {
          l->context.run();
          return;
        } catch (...) {
        }
      }
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  MutexLock stop_lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  Impl* impl = impl_.get();
  impl->core->stopping = true;

  // No new connections: close the acceptor on its own thread and wait for that.
  std::promise<void> closed;
  net::post(impl->loops[0]->context, [impl, &closed] {
    boost::system::error_code ignored;
    impl->acceptor->close(ignored);
    impl->backoff->cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  // Every connection answers what it holds with 503 (or finishes the reply it is writing) and closes.
  for (auto& loop : impl->loops) {
    Loop* l = loop.get();
    net::post(l->context, [l] {
      std::vector<std::shared_ptr<Connection>> all = l->connections;
      for (const auto& c : all) c->Shutdown();
    });
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(impl->core->options.stop_grace_ms);
  while (impl->core->connections.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    // From here on Responders post nothing.
    WriterMutexLock lock(impl->core->loops_mu);
    impl->core->loops_running = false;
  }
  for (auto& loop : impl->loops) loop->context.stop();
  for (auto& t : impl->threads) t.join();
  impl->threads.clear();
  // Connections still open after the grace period are dropped with their loops.
  for (auto& loop : impl->loops) loop->connections.clear();
  impl->acceptor.reset();
  impl->backoff.reset();
  for (auto& loop : impl->loops) loop->sweep.reset();
  impl->loops.clear();
}

Status HttpServer::ReloadTls(const TlsOptions& tls) {
  if (!impl_->core->options.tls.enabled()) {
    return Status(StatusCode::kFailedPrecondition, "the server was started without TLS; restart it to turn TLS on");
  }
  if (!tls.enabled()) return InvalidArgument("TLS cannot be turned off by a reload; restart the server");
  Result<std::shared_ptr<net::ssl::context>> made = internal::MakeServerTlsContext(tls);
  if (!made.ok()) return made.status();
  impl_->core->set_tls(std::move(*made));
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->port; }

int HttpServer::connections() const { return impl_->core->connections.load(); }

}  // namespace ferry::http
