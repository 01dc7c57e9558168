#include "http/connection.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cctype>
#include <exception>
#include <limits>
#include <string_view>

#include "http/header_text.h"
#include "http/request_target.h"
#include "http/tls_context.h"

namespace ferry::http::internal {
namespace {

using boost::system::error_code;

constexpr size_t kHeaderReadBytes = 64 * 1024;
constexpr size_t kMaxBodyReadBytes = 256 * 1024;
constexpr size_t kKeepBufferBytes = 256 * 1024;        // a larger read buffer is released between requests
constexpr auto kLingerTime = std::chrono::seconds(2);  // how long a closing connection drains what the client sends
constexpr uint64_t kMaxLingerBytes = 64u << 20;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr int kMaxEmptyLines = 8;  // before a request line

// A JSON string literal for an error message; control characters become spaces.
std::string ErrorBody(std::string_view message) {
  std::string out = "{\"error\": \"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

bool SafeHeaderText(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// Response headers the server writes itself: a handler's copy is ignored.
bool ServerOwnedHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") || IEquals(name, "content-encoding") ||
         IEquals(name, "connection") || IEquals(name, "content-type") || IEquals(name, "vary");
}

Clock::duration Millis(int ms) { return std::chrono::milliseconds(ms); }

// Seconds to move `bytes` at `rate` bytes per second, as a duration (rate 0: no allowance).
Clock::duration RateAllowance(uint64_t bytes, uint64_t rate) {
  if (rate == 0) return Clock::duration::zero();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(static_cast<double>(bytes) / rate));
}

}  // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, Loop* loop, tcp::socket socket,
                       std::shared_ptr<net::ssl::context> tls)
    : core_(std::move(core)), loop_(loop), socket_(std::move(socket)), tls_context_(std::move(tls)) {
  error_code ec;
  tcp::endpoint remote = socket_.remote_endpoint(ec);
  if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  if (tls_context_) tls_ = std::make_unique<net::ssl::stream<tcp::socket&>>(socket_, *tls_context_);
}

Connection::~Connection() { core_->connections.fetch_sub(1, std::memory_order_relaxed); }

void Connection::Start() {
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // read_some after async_wait must never block the loop
  if (!tls_) return BeginRequest();
  // The handshake counts against the header timeout: a client that connects and says nothing is closed.
  phase_ = Phase::kHandshake;
  deadline_ = Clock::now() + Millis(core_->options.header_timeout_ms);
  tls_->async_handshake(net::ssl::stream_base::server,
                        [self = shared_from_this()](const error_code& hec) { self->OnHandshake(hec); });
}

void Connection::OnHandshake(const error_code& ec) {
  if (phase_ != Phase::kHandshake) return;  // closed meanwhile (timeout, shutdown)
  if (ec) {
    if (ec.category() == net::error::get_ssl_category() && ERR_GET_REASON(ec.value()) == SSL_R_HTTP_REQUEST) {
      // Plain HTTP on the HTTPS port (OpenSSL recognized a request line): say so in plain HTTP, as nginx does,
      // instead of a reset the client cannot explain.
      const std::string body = ErrorBody("this port speaks HTTPS: use https://");
      const std::string reply = fmt::format(
          "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
          "Connection: close\r\n\r\n{}",
          body.size(), body);
      error_code ignored;
      socket_.send(net::buffer(reply), 0, ignored);  // one non-blocking send: best effort
      core_->Refused(Refusal{400, "plain HTTP request on the HTTPS port", peer_, "", ""});
      return Close();
    }
    core_->Refused(Refusal{0, "TLS handshake failed: " + ec.message(), peer_, "", ""});
    return Close();
  }
  client_subject_ = PeerSubject(tls_->native_handle());
  BeginRequest();
}

void Connection::BeginRequest() {
  if (shutdown_) return Close();
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(std::min<size_t>(core_->options.max_header_bytes, UINT32_MAX)));
  // The route's limit is enforced by OnHeader and the BodySink. (Not boost::none: Boost 1.74 compares the
  // Content-Length with the optional limit, and anything is greater than none.)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  sink_.reset();
  slot_.reset();
  header_handled_ = false;
  continue_pending_ = false;
  scanned_ = 0;
  header_consumed_ = 0;
  empty_lines_ = 0;
  method_.clear();
  target_log_.clear();
  head_ = false;
  response_coding_ = ContentCoding::kIdentity;
  if (buffer_.size() > 0) {  // pipelined: the next request is already here
    phase_ = Phase::kHeader;
    deadline_ = Clock::now() + Millis(core_->options.header_timeout_ms);
    return Parse();
  }
  if (buffer_.capacity() > kKeepBufferBytes) buffer_.shrink_to_fit();
  phase_ = Phase::kIdle;
  deadline_ = Clock::now() + Millis(core_->options.idle_timeout_ms);
  Read();
}

void Connection::Read() {
  if (reading_ || phase_ == Phase::kClosed) return;
  size_t want = kHeaderReadBytes;
  if (phase_ == Phase::kBody && parser_ && parser_->content_length_remaining()) {
    want = std::clamp<size_t>(
        static_cast<size_t>(std::min<uint64_t>(*parser_->content_length_remaining(), kMaxBodyReadBytes)),
        kHeaderReadBytes, kMaxBodyReadBytes);
  }
  reading_ = true;
  if (tls_ || phase_ == Phase::kLingering) {
    // TLS: OpenSSL may hold decrypted bytes already, so readability of the socket says nothing; read through it.
    // Lingering: what the client still sends is discarded, so it is not decrypted.
    auto done = [self = shared_from_this()](const error_code& ec, size_t n) { self->OnRead(ec, n); };
    if (tls_ && phase_ != Phase::kLingering) {
      tls_->async_read_some(buffer_.prepare(want), std::move(done));
    } else {
      socket_.async_read_some(buffer_.prepare(want), std::move(done));
    }
    return;
  }
  if (phase_ == Phase::kIdle) {
    // Between requests the next one is rarely there yet: wait for readability and then read, instead of a read
    // that fails with EAGAIN first (one system call less per keep-alive request).
    socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this(), want](const error_code& wec) {
      if (wec) return self->OnRead(wec, 0);
      error_code ec;
      const size_t n = self->socket_.read_some(self->buffer_.prepare(want), ec);
      if (ec == net::error::would_block) {
        self->reading_ = false;
        return self->Read();
      }
      self->OnRead(ec, n);
    });
    return;
  }
  socket_.async_read_some(buffer_.prepare(want),
                          [self = shared_from_this()](const error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const error_code& ec, size_t n) {
  reading_ = false;
  switch (phase_) {
    case Phase::kClosed:
      return;
    case Phase::kLingering:
      // Drain what the client still sends, so that closing does not reset the connection under our reply.
      lingered_ += n;
      if (ec || lingered_ > kMaxLingerBytes) return Close();
      buffer_.clear();
      return Read();
    case Phase::kWriting:
    case Phase::kHandler:
      // A read left pending by a refusal from the sweep: the connection is closing; Linger reads on.
      buffer_.clear();
      return;
    default:
      break;
  }
  if (ec) return Close();  // the client went away (mid-request or between requests)
  buffer_.commit(n);
  const Clock::time_point now = Clock::now();
  if (phase_ == Phase::kIdle) {
    phase_ = Phase::kHeader;
    deadline_ = now + Millis(core_->options.header_timeout_ms);
  }
  Parse();
}

bool Connection::SkipLeadingEmptyLines() {
  // RFC 9112 2.2: empty lines before a request line are ignored (some clients send a CRLF after a POST body).
  for (;;) {
    const std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (data.substr(0, 2) != "\r\n") return true;
    if (++empty_lines_ > kMaxEmptyLines) {
      Refuse(400, "malformed request: empty lines instead of a request line");
      return false;
    }
    buffer_.consume(2);
  }
}

bool Connection::CheckHeaderBytes() {
  const std::string_view data(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  // Only the header is checked, not body bytes behind it: it ends at "\r\n\r\n", or at a "\r\n" at the start when
  // the parser has already taken the request line and every field (it consumes complete lines as they come).
  size_t end;
  if (header_consumed_ > 0 && data.substr(0, 2) == "\r\n") {
    end = 2;
  } else {
    const size_t eom = data.find("\r\n\r\n", scanned_ >= 3 ? scanned_ - 3 : 0);
    end = eom == std::string_view::npos ? data.size() : eom + 4;
  }
  for (size_t i = scanned_; i < end; ++i) {
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) {
      Refuse(400, "malformed request: a line of the request header ends in a bare LF (CRLF required)");
      return false;
    }
  }
  scanned_ = end;
  if (header_consumed_ > 0) return true;  // the parser only consumes a request line once it is complete
  const size_t line_end = data.find('\n');
  const size_t line_bytes = line_end == std::string_view::npos ? data.size() : line_end + 1;
  if (line_bytes > core_->options.max_request_line_bytes) {
    Refuse(414, fmt::format("the request line exceeds the limit of {} bytes", core_->options.max_request_line_bytes));
    return false;
  }
  return true;
}

void Connection::Parse() {
  for (;;) {
    const bool in_header = !parser_->is_header_done();
    if (in_header && header_consumed_ == 0 && !SkipLeadingEmptyLines()) return;
    if (in_header && !CheckHeaderBytes()) return;
    error_code ec;
    const size_t used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    if (in_header) {
      // Beast consumes the request line and complete fields as they come: keep the scan offsets in step.
      header_consumed_ += used;
      scanned_ -= std::min(scanned_, used);
    }
    if (ec == beast_http::error::need_more) break;
    if (ec) {
      if (sink_ && !sink_->status().ok()) return RefuseSink(sink_->status());
      return RefuseParse(ec);
    }
    if (parser_->is_header_done() && !header_handled_) {
      header_handled_ = true;
      if (!OnHeader()) return;
      if (continue_pending_) {
        // The client waits for this before it sends the body.
        continue_pending_ = false;
        write_in_flight_ = true;
        AsyncWrite(net::buffer(kContinue.data(), kContinue.size()),
                   [self = shared_from_this()](const error_code& wec, size_t) {
                     self->write_in_flight_ = false;
                     if (self->phase_ == Phase::kClosed) return;
                     if (wec) return self->Close();
                     self->Parse();
                   });
        return;
      }
    }
    if (parser_->is_done()) return OnMessage();
    if (used == 0 || buffer_.size() == 0) break;
  }
  if (phase_ == Phase::kBody && sink_) {
    const auto& o = core_->options;
    deadline_ =
        body_start_ + Millis(o.body_timeout_ms) + RateAllowance(sink_->wire_bytes(), o.min_body_bytes_per_second);
  }
  Read();
}

bool Connection::OnHeader() {
  const HttpServerOptions& o = core_->options;
  auto& msg = parser_->get();
  method_ = std::string(msg.method_string());
  target_log_ = std::string(msg.target().substr(0, 256));
  http10_ = msg.version() < 11;
  keep_alive_ = parser_->keep_alive();
  head_ = msg.method() == beast_http::verb::head;

  size_t fields = 0;
  for (auto it = msg.begin(); it != msg.end(); ++it) ++fields;
  if (fields > o.max_header_count) {
    Refuse(431, fmt::format("the request has {} header fields; the limit is {}", fields, o.max_header_count));
    return false;
  }
  const size_t hosts = msg.count(beast_http::field::host);
  if (hosts > 1 || (hosts == 0 && !http10_)) {
    Refuse(400, hosts > 1 ? "malformed request: more than one Host header" : "malformed request: no Host header");
    return false;
  }
  // Framing (RFC 9112 6.3): one Content-Length with one value, or a Transfer-Encoding that ends in chunked
  // (Beast already refuses the two together).
  if (msg.count(beast_http::field::content_length) > 1 ||
      msg[beast_http::field::content_length].find(',') != std::string_view::npos) {
    Refuse(400, "malformed request: more than one Content-Length");
    return false;
  }
  if (msg.count(beast_http::field::transfer_encoding) > 0) {
    const std::string_view te = TrimBlanks(msg[beast_http::field::transfer_encoding]);
    if (http10_) {
      Refuse(400, "malformed request: Transfer-Encoding in an HTTP/1.0 request");
      return false;
    }
    if (!IEquals(te, "chunked")) {
      const size_t comma = te.rfind(',');
      const bool ends_chunked =
          IEquals(TrimBlanks(comma == std::string_view::npos ? te : te.substr(comma + 1)), "chunked");
      if (ends_chunked) {
        Refuse(501, fmt::format("transfer coding \"{}\" is not supported (only chunked)", te));
      } else {
        Refuse(400, "malformed request: Transfer-Encoding does not end in chunked");
      }
      return false;
    }
  }
  if (msg.method() == beast_http::verb::trace || msg.method() == beast_http::verb::connect) {
    Refuse(405, fmt::format("method {} is not allowed", method_), {{"Allow", "GET, POST, PUT, DELETE"}});
    return false;
  }
  std::optional<RequestTarget> target = ParseRequestTarget(msg.target());
  if (!target) {
    Refuse(400, "malformed request: invalid request target or percent-encoding");
    return false;
  }
  if (msg.count(beast_http::field::expect) > 0) {
    if (!IEquals(TrimBlanks(msg[beast_http::field::expect]), "100-continue")) {
      Refuse(417, "only the expectation 100-continue is supported");
      return false;
    }
    continue_pending_ = !http10_;
  }
  const BodyPolicy policy = o.body_policy ? o.body_policy(method_, target->path) : BodyPolicy{o.max_body_bytes, ""};
  std::optional<ContentCoding> coding = ParseContentEncoding(msg[beast_http::field::content_encoding]);
  if (!coding) {
    Refuse(415, fmt::format("Content-Encoding \"{}\" is not supported (gzip, deflate or identity)",
                            std::string_view(msg[beast_http::field::content_encoding]).substr(0, 64)));
    return false;
  }
  const boost::optional<std::uint64_t> length = parser_->content_length();
  if (length && *length > policy.max_bytes) {
    Refuse(413, fmt::format("request body of {} bytes exceeds the limit of {} bytes", *length, policy.max_bytes));
    return false;
  }
  const bool has_body = parser_->chunked() || (length && *length > 0);
  if (has_body) {
    BodySinkOptions so;
    so.max_bytes = policy.max_bytes;
    so.coding = *coding;
    if (length) so.content_length = *length;
    so.budget = core_->budget;
    so.spool_dir = policy.spool_dir;
    Result<std::unique_ptr<BodySink>> sink = BodySink::Create(so);
    if (!sink.ok()) {
      RefuseSink(sink.status());
      return false;
    }
    sink_ = std::move(*sink);
    msg.body() = sink_.get();
    phase_ = Phase::kBody;
    body_start_ = Clock::now();
    deadline_ = body_start_ + Millis(o.body_timeout_ms);
  } else {
    continue_pending_ = false;
  }
  target_ = std::move(*target);
  response_coding_ = NegotiateResponseCoding(msg[beast_http::field::accept_encoding]);
  return true;
}

void Connection::OnMessage() {
  if (sink_) {
    if (Status s = sink_->Finish(); !s.ok()) return RefuseSink(s);
  }
  auto& msg = parser_->get();
  HttpRequest request;
  request.method = std::move(method_);
  request.path = std::move(target_.path);
  request.query = std::move(target_.query);
  for (const auto& field : msg) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto [it, inserted] = request.headers.try_emplace(std::move(name), field.value());
    if (!inserted) {
      it->second += ", ";
      it->second.append(field.value().data(), field.value().size());
    }
  }
  if (sink_) {
    sink_->MoveInto(request);
    msg.body() = nullptr;
    sink_.reset();
  }
  request.client_subject = client_subject_;
  method_ = request.method;
  Dispatch(std::move(request));
}

void Connection::Dispatch(HttpRequest request) {
  phase_ = Phase::kHandler;
  deadline_ = Clock::time_point::max();
  auto slot = std::make_shared<ReplySlot>();
  slot->connection = weak_from_this();
  slot->core = core_;
  slot->context = &loop_->context;
  slot_ = slot;
  Responder respond = [slot](HttpResponse response) { PostReply(slot, std::move(response)); };
  try {
    core_->handler(std::move(request), respond);
  } catch (const std::exception& e) {
    respond(HttpResponse{500, {}, ErrorBody(std::string("handler failed: ") + e.what())});
  } catch (...) {
    respond(HttpResponse{500, {}, ErrorBody("handler failed")});
  }
}

void Connection::PostReply(const std::shared_ptr<ReplySlot>& slot, HttpResponse response) {
  if (slot->answered.exchange(true)) return;
  ReaderMutexLock lock(slot->core->loops_mu);
  if (!slot->core->loops_running) return;
  // Inline when the handler answers on its own I/O thread, posted from any other thread.
  net::dispatch(slot->context->get_executor(), [slot, response = std::move(response)]() mutable {
    if (std::shared_ptr<Connection> c = slot->connection.lock()) c->OnReply(slot, std::move(response));
  });
}

void Connection::OnReply(const std::shared_ptr<ReplySlot>& slot, HttpResponse response) {
  if (slot != slot_ || phase_ != Phase::kHandler) return;
  bool close = !keep_alive_ || shutdown_;
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "connection") && IEquals(TrimBlanks(value), "close")) close = true;
  }
  WriteResponse(std::move(response), close);
}

void Connection::WriteResponse(HttpResponse response, bool close) {
  const HttpServerOptions& o = core_->options;
  const int status = (response.status >= 200 && response.status <= 599) ? response.status : 500;
  std::string body = std::move(response.body);
  std::string_view content_type = "application/json";
  for (const auto& [name, value] : response.headers) {
    if (IEquals(name, "content-type") && SafeHeaderText(value)) content_type = value;
  }
  const bool compressible = body.size() >= o.compress_min_bytes && o.compress_min_bytes > 0;
  const char* encoding = nullptr;
  if (compressible && response_coding_ != ContentCoding::kIdentity) {
    Result<std::string> compressed = Compress(body, response_coding_);
    if (compressed.ok()) {
      body = std::move(*compressed);
      encoding = ContentCodingName(response_coding_);
    }
  }
  out_head_.clear();
  fmt::format_to(std::back_inserter(out_head_), "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", status,
                 std::string_view(beast_http::obsolete_reason(static_cast<beast_http::status>(status))), content_type,
                 body.size());
  if (encoding != nullptr) fmt::format_to(std::back_inserter(out_head_), "Content-Encoding: {}\r\n", encoding);
  if (compressible) out_head_ += "Vary: Accept-Encoding\r\n";
  if (close) {
    out_head_ += "Connection: close\r\n";
  } else if (http10_) {
    out_head_ += "Connection: keep-alive\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    if (ServerOwnedHeader(name) || name.empty() || !SafeHeaderText(name) || !SafeHeaderText(value)) continue;
    out_head_ += name;
    out_head_ += ": ";
    out_head_ += value;
    out_head_ += "\r\n";
  }
  out_head_ += "\r\n";
  out_body_ = head_ ? std::string() : std::move(body);

  phase_ = Phase::kWriting;
  const uint64_t total = out_head_.size() + out_body_.size();
  deadline_ = Clock::now() + Millis(o.body_timeout_ms) + RateAllowance(total, o.min_body_bytes_per_second);
  write_in_flight_ = true;
  std::array<net::const_buffer, 2> buffers{net::buffer(out_head_), net::buffer(out_body_)};
  AsyncWrite(buffers, [self = shared_from_this(), close](const error_code& ec, size_t) { self->OnWritten(ec, close); });
}

void Connection::OnWritten(const error_code& ec, bool close) {
  write_in_flight_ = false;
  if (out_body_.capacity() > kKeepBufferBytes) std::string().swap(out_body_);
  if (phase_ == Phase::kClosed) return;
  if (ec) return Close();
  if (close || shutdown_) return Linger();
  BeginRequest();
}

void Connection::Linger() {
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  phase_ = Phase::kLingering;
  deadline_ = Clock::now() + kLingerTime;
  lingered_ = 0;
  sink_.reset();
  parser_.reset();
  buffer_.clear();
  Read();
}

void Connection::Refuse(int status, const std::string& reason, std::vector<std::pair<std::string, std::string>> extra) {
  core_->Refused(Refusal{status, reason, peer_, method_, target_log_});
  if (write_in_flight_) return Close();
  HttpResponse response;
  response.status = status;
  response.body = ErrorBody(reason);
  for (auto& [name, value] : extra) response.headers[name] = value;
  if (sink_) {
    parser_->get().body() = nullptr;
    sink_.reset();
  }
  head_ = false;
  response_coding_ = ContentCoding::kIdentity;
  WriteResponse(std::move(response), /*close=*/true);
}

void Connection::RefuseParse(const error_code& ec) {
  if (ec == beast_http::error::header_limit) {
    return Refuse(431,
                  fmt::format("the request header exceeds the limit of {} bytes", core_->options.max_header_bytes));
  }
  if (ec == beast_http::error::body_limit) return Refuse(413, "request body exceeds the limit");
  Refuse(400, "malformed request: " + ec.message());
}

void Connection::RefuseSink(const Status& status) {
  switch (status.code()) {
    case StatusCode::kResourceExhausted:
      return Refuse(413, status.message());
    case StatusCode::kUnavailable:
      return Refuse(503, status.message(), {{"Retry-After", "1"}});
    case StatusCode::kInvalidArgument:
      return Refuse(400, status.message());
    default:
      return Refuse(500, status.message());
  }
}

void Connection::CheckDeadline(Clock::time_point now) {
  if (now < deadline_) return;
  switch (phase_) {
    case Phase::kHandshake:
      core_->Refused(Refusal{0,
                             fmt::format("the TLS handshake did not finish within {} ms; connection closed",
                                         core_->options.header_timeout_ms),
                             peer_, "", ""});
      return Close();
    case Phase::kIdle:
    case Phase::kLingering:
      return Close();
    case Phase::kHeader:
      return Refuse(408,
                    fmt::format("the request header did not arrive within {} ms", core_->options.header_timeout_ms));
    case Phase::kBody:
      return Refuse(408, fmt::format("the request body arrives too slowly (less than {} bytes per second)",
                                     core_->options.min_body_bytes_per_second));
    case Phase::kWriting:
      core_->Refused(
          Refusal{0, "the client reads the response too slowly; connection closed", peer_, method_, target_log_});
      return Close();
    default:
      return;
  }
}

void Connection::Shutdown() {
  if (shutdown_) return;
  shutdown_ = true;
  switch (phase_) {
    case Phase::kHandshake:
    case Phase::kIdle:
    case Phase::kLingering:
      return Close();
    case Phase::kHeader:
    case Phase::kBody:
      return Refuse(503, "server is shutting down");
    case Phase::kHandler:
      if (slot_ && !slot_->answered.exchange(true)) {
        WriteResponse(HttpResponse{503, {}, ErrorBody("server is shutting down")}, /*close=*/true);
      }
      return;  // otherwise the handler's reply is on its way and closes the connection after it
    default:
      return;  // a reply is being written; the connection closes after it
  }
}

void Connection::Close() {
  if (phase_ == Phase::kClosed) return;
  std::shared_ptr<Connection> self = shared_from_this();  // the registry may hold the last reference
  phase_ = Phase::kClosed;
  deadline_ = Clock::time_point::max();
  error_code ignored;
  socket_.close(ignored);
  std::vector<std::shared_ptr<Connection>>& all = loop_->connections;
  if (loop_index < all.size() && all[loop_index].get() == this) {
    if (loop_index + 1 != all.size()) {
      all[loop_index] = std::move(all.back());
      all[loop_index]->loop_index = loop_index;
    }
    all.pop_back();
  }
}

}  // namespace ferry::http::internal
