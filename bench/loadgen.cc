// ferry_loadgen: a closed-loop HTTP/1.1 load generator for the serving benchmarks (bench/serve_bench.sh).
//
//   ferry_loadgen --port P [--host 127.0.0.1] [--clients C] [--method POST] [--path /v2/health/live]
//                 [--body FILE] [--header "Name: value"]... [--warmup S] [--duration S] [--timeout S]
//                 [--save-response FILE]
//
// C client threads, each with one keep-alive connection (raw socket, TCP_NODELAY), send the same request back to
// back: the next one leaves as soon as the previous response has been read completely, so C is also the number of
// requests in flight. Responses are framed by Content-Length, chunked transfer coding or connection close; a
// response that says `Connection: close` (or is cut off) makes that client reconnect.
//
// Only requests that complete inside the measured window (after the warm-up, for --duration seconds) count in
// `requests` and the latencies (send of the first byte to the last byte of the response, per request). Every
// response that is not 200, and every connection or framing error, counts in `failures` whether it happened in the
// warm-up or the window (a failure is never fine); the first one is reported.
//
// Prints one line of JSON on stdout:
//   {"clients":C,"requests":N,"failures":F,"seconds":S,"rps":N/S,"p50_ms":..,"p90_ms":..,"p99_ms":..,"max_ms":..}
// plus "cpu_s" (the load generator's own CPU seconds, user + system, so a benchmark on a shared machine can tell
// its CPU from the server's) and "first_failure":"<status line and the start of the body, or the error>" when F > 0.
// --save-response writes the body of the first 200 response to FILE (to check what the server answers).
// Exit status: 0 no failures, 1 some failures, 2 bad usage or no connection could be made at all.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port;
  int clients = 1;
  std::string method = "GET";
  bool method_given = false;
  std::string path = "/";
  std::string body;
  bool has_body = false;
  std::vector<std::string> headers;
  double warmup_s = 1.0;
  double duration_s = 5.0;
  double timeout_s = 30.0;
  std::string save_response;
};

[[noreturn]] void Usage(const std::string& problem) {
  std::fprintf(stderr,
               "ferry_loadgen: %s\nusage: ferry_loadgen --port P [--host H] [--clients C] [--method M] [--path P]\n"
               "       [--body FILE] [--header \"Name: value\"]... [--warmup S] [--duration S] [--timeout S]\n"
               "       [--save-response FILE]\n",
               problem.c_str());
  std::exit(2);
}

double ParsePositive(const std::string& flag, const std::string& text, bool allow_zero) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !(allow_zero ? v >= 0 : v > 0) || v > 1e6) {
    Usage(flag + " needs a " + (allow_zero ? "non-negative" : "positive") + " number, got \"" + text + "\"");
  }
  return v;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") Usage("help");
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--host") {
      o.host = value;
    } else if (flag == "--port") {
      o.port = value;
    } else if (flag == "--clients") {
      double c = ParsePositive(flag, value, false);
      if (c != static_cast<int>(c) || c > 4096) Usage("--clients must be an integer in 1..4096");
      o.clients = static_cast<int>(c);
    } else if (flag == "--method") {
      o.method = value;
      o.method_given = true;
    } else if (flag == "--path") {
      if (value.empty() || value[0] != '/') Usage("--path must start with /");
      o.path = value;
    } else if (flag == "--body") {
      std::ifstream in(value, std::ios::binary);
      if (!in) Usage("cannot read --body file " + value);
      std::ostringstream text;
      text << in.rdbuf();
      o.body = text.str();
      o.has_body = true;
    } else if (flag == "--header") {
      if (value.find(':') == std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
        Usage("--header must look like \"Name: value\"");
      }
      o.headers.push_back(value);
    } else if (flag == "--warmup") {
      o.warmup_s = ParsePositive(flag, value, true);
    } else if (flag == "--duration") {
      o.duration_s = ParsePositive(flag, value, false);
    } else if (flag == "--save-response") {
      o.save_response = value;
    } else if (flag == "--timeout") {
      o.timeout_s = ParsePositive(flag, value, false);
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (o.port.empty()) Usage("--port is required");
  if (o.has_body && !o.method_given) o.method = "POST";
  return o;
}

bool HasHeader(const std::vector<std::string>& headers, std::string_view name) {
  for (const std::string& h : headers) {
    if (h.size() > name.size() && h[name.size()] == ':' && strncasecmp(h.data(), name.data(), name.size()) == 0) {
      return true;
    }
  }
  return false;
}

std::string BuildRequest(const Options& o) {
  std::string r = o.method + " " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + o.port + "\r\n";
  for (const std::string& h : o.headers) r += h + "\r\n";
  if (o.has_body && !HasHeader(o.headers, "content-type")) r += "Content-Type: application/json\r\n";
  if (o.has_body || o.method == "POST" || o.method == "PUT") {
    r += "Content-Length: " + std::to_string(o.body.size()) + "\r\n";
  }
  r += "\r\n";
  r += o.body;
  return r;
}

// One parsed response.
struct Response {
  int status = 0;
  std::string status_line;
  std::string body;
  bool close = false;  // the server closes the connection after it
};

// A blocking keep-alive connection with its receive buffer.
class Connection {
 public:
  Connection(const addrinfo* addr, double timeout_s) : addr_(addr), timeout_s_(timeout_s) {}
  ~Connection() { Close(); }

  // Empty on success, else what went wrong.
  std::string Connect() {
    Close();
    fd_ = socket(addr_->ai_family, addr_->ai_socktype | SOCK_CLOEXEC, addr_->ai_protocol);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_s_);
    tv.tv_usec = static_cast<suseconds_t>((timeout_s_ - static_cast<double>(tv.tv_sec)) * 1e6);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd_, addr_->ai_addr, addr_->ai_addrlen) != 0) {
      std::string error = std::string("connect: ") + std::strerror(errno);
      Close();
      return error;
    }
    buffer_.clear();
    begin_ = 0;
    return "";
  }

  bool open() const { return fd_ >= 0; }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  std::string Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::string("send: ") + (n < 0 ? std::strerror(errno) : "connection closed");
      data.remove_prefix(static_cast<size_t>(n));
    }
    return "";
  }

  // Reads one complete response (skipping 1xx). Empty on success, else what went wrong.
  std::string Read(bool head_request, Response& out) {
    for (;;) {
      out = Response{};
      std::string line;
      if (std::string e = ReadLine(line); !e.empty()) return e;
      if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0 || line[8] != ' ') {
        return "malformed status line \"" + line.substr(0, 80) + "\"";
      }
      out.status = std::atoi(line.c_str() + 9);
      out.status_line = line;
      std::optional<uint64_t> length;
      bool chunked = false;
      out.close = line.compare(0, 8, "HTTP/1.0") == 0;
      for (;;) {
        if (std::string e = ReadLine(line); !e.empty()) return e;
        if (line.empty()) break;
        const size_t colon = line.find(':');
        if (colon == std::string::npos) return "malformed header line \"" + line.substr(0, 80) + "\"";
        std::string name = line.substr(0, colon);
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string lower = value;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (name == "content-length") {
          char* end = nullptr;
          unsigned long long v = std::strtoull(value.c_str(), &end, 10);
          if (value.empty() || *end != '\0') return "bad Content-Length \"" + value + "\"";
          length = v;
        } else if (name == "transfer-encoding") {
          chunked = lower.find("chunked") != std::string::npos;
        } else if (name == "connection") {
          if (lower.find("close") != std::string::npos) out.close = true;
          if (lower.find("keep-alive") != std::string::npos) out.close = false;
        }
      }
      if (out.status >= 100 && out.status < 200) continue;  // interim response: the real one follows
      if (head_request || out.status == 204 || out.status == 304) return "";
      if (chunked) return ReadChunked(out.body);
      if (length) return ReadExactly(*length, out.body);
      out.close = true;  // delimited by the end of the connection
      for (;;) {
        TakeBuffered(out.body);
        std::string e = Fill();
        if (e == "eof") return "";
        if (!e.empty()) return e;
      }
    }
  }

 private:
  size_t Buffered() const { return buffer_.size() - begin_; }

  void TakeBuffered(std::string& out) {
    out.append(buffer_, begin_, std::string::npos);
    buffer_.clear();
    begin_ = 0;
  }

  // Appends what the socket has to the buffer. "eof" when the peer closed, "" on data, else the error.
  std::string Fill() {
    if (begin_ > 0 && begin_ == buffer_.size()) {
      buffer_.clear();
      begin_ = 0;
    } else if (begin_ > (64u << 10)) {
      buffer_.erase(0, begin_);
      begin_ = 0;
    }
    char chunk[64 << 10];
    for (;;) {
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? "timed out waiting for the response"
                                                       : std::string("recv: ") + std::strerror(errno);
      }
      if (n == 0) return "eof";
      buffer_.append(chunk, static_cast<size_t>(n));
      return "";
    }
  }

  // A line without its CRLF (a bare LF is accepted too).
  std::string ReadLine(std::string& line) {
    for (;;) {
      const size_t lf = buffer_.find('\n', begin_);
      if (lf != std::string::npos) {
        size_t end = lf;
        if (end > begin_ && buffer_[end - 1] == '\r') --end;
        line.assign(buffer_, begin_, end - begin_);
        begin_ = lf + 1;
        return "";
      }
      if (Buffered() > (64u << 10)) return "header line longer than 64 KiB";
      std::string e = Fill();
      if (e == "eof") return "connection closed before the response was complete";
      if (!e.empty()) return e;
    }
  }

  std::string ReadExactly(uint64_t n, std::string& out) {
    while (Buffered() < n) {
      if (Buffered() >= (1u << 20)) {  // a large body: move what arrived so the buffer stays small
        n -= Buffered();
        TakeBuffered(out);
      }
      std::string e = Fill();
      if (e == "eof") return "connection closed before the response was complete";
      if (!e.empty()) return e;
    }
    out.append(buffer_, begin_, n);
    begin_ += n;
    return "";
  }

  std::string ReadChunked(std::string& out) {
    std::string line;
    for (;;) {
      if (std::string e = ReadLine(line); !e.empty()) return e;
      const std::string size_text = line.substr(0, line.find(';'));
      char* end = nullptr;
      const unsigned long long size = std::strtoull(size_text.c_str(), &end, 16);
      if (size_text.empty() || (*end != '\0' && *end != ' ' && *end != '\t')) {
        return "bad chunk size line \"" + line.substr(0, 80) + "\"";
      }
      if (size == 0) break;
      if (std::string e = ReadExactly(size, out); !e.empty()) return e;
      if (std::string e = ReadLine(line); !e.empty()) return e;
      if (!line.empty()) return "chunk not followed by CRLF";
    }
    for (;;) {  // trailers, up to the empty line
      if (std::string e = ReadLine(line); !e.empty()) return e;
      if (line.empty()) return "";
    }
  }

  const addrinfo* addr_;
  double timeout_s_;
  int fd_ = -1;
  std::string buffer_;
  size_t begin_ = 0;
};

struct Shared {
  Clock::time_point measure_begin, measure_end;
  std::atomic<uint64_t> failures{0};
  std::atomic<uint64_t> connected{0};
  std::atomic<bool> saved{false};
  std::mutex mu;
  std::string first_failure;  // guarded by mu

  void Fail(const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first_failure = what;
    }
  }
};

void Client(const Options& o, const addrinfo* addr, const std::string& request, Shared& shared,
            std::vector<double>& latencies_ms) {
  Connection conn(addr, o.timeout_s);
  const bool head = o.method == "HEAD";
  Response response;
  while (Clock::now() < shared.measure_end) {
    if (!conn.open()) {
      if (std::string e = conn.Connect(); !e.empty()) {
        shared.Fail(e);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // do not spin on a refusing server
        continue;
      }
      shared.connected.fetch_add(1);
    }
    const Clock::time_point start = Clock::now();
    std::string error = conn.Send(request);
    if (error.empty()) error = conn.Read(head, response);
    const Clock::time_point end = Clock::now();
    if (!error.empty()) {
      shared.Fail(error);
      conn.Close();
      continue;
    }
    if (response.status != 200) {
      shared.Fail(response.status_line + ": " + response.body.substr(0, 400));
      if (response.close) conn.Close();
      continue;
    }
    if (!o.save_response.empty() && !shared.saved.exchange(true)) {
      std::ofstream(o.save_response, std::ios::binary) << response.body;
    }
    if (end >= shared.measure_begin && end <= shared.measure_end) {
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    if (response.close) conn.Close();
  }
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseArgs(argc, argv);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  if (int rc = getaddrinfo(o.host.c_str(), o.port.c_str(), &hints, &addrs); rc != 0 || !addrs) {
    std::fprintf(stderr, "ferry_loadgen: cannot resolve %s:%s: %s\n", o.host.c_str(), o.port.c_str(), gai_strerror(rc));
    return 2;
  }
  const std::string request = BuildRequest(o);

  Shared shared;
  const Clock::time_point begin = Clock::now();
  shared.measure_begin = begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup_s));
  shared.measure_end =
      shared.measure_begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.duration_s));
  std::vector<std::vector<double>> latencies(static_cast<size_t>(o.clients));
  std::vector<std::thread> threads;
  threads.reserve(latencies.size());
  for (auto& l : latencies) {
    l.reserve(1 << 14);
    threads.emplace_back(Client, std::cref(o), addrs, std::cref(request), std::ref(shared), std::ref(l));
  }
  for (auto& t : threads) t.join();
  freeaddrinfo(addrs);

  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const uint64_t failures = shared.failures.load();
  const double rps = static_cast<double>(all.size()) / o.duration_s;
  std::printf(
      "{\"clients\":%d,\"requests\":%zu,\"failures\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"p50_ms\":%.3f,"
      "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f",
      o.clients, all.size(), static_cast<unsigned long long>(failures), o.duration_s, rps, Percentile(all, 50),
      Percentile(all, 90), Percentile(all, 99), all.empty() ? 0.0 : all.back());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::printf(",\"cpu_s\":%.3f", cpu_s);
  if (failures > 0) std::printf(",\"first_failure\":%s", JsonString(shared.first_failure).c_str());
  std::printf("}\n");
  if (shared.connected.load() == 0) return 2;
  return failures > 0 ? 1 : 0;
}
