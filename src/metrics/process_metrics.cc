#include "metrics/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace ferry::metrics {
namespace {

// /proc files report size 0, so read until EOF.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// Entries of `dir` other than . and ..; nullopt if it cannot be listed.
std::optional<int64_t> CountEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::nullopt;
  int64_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  // Includes the descriptor of the listing itself, as the Go and Python clients' counts do.
  return n;
}

bool ParseNumber(std::string_view token, double* out) {
  int64_t v = 0;
  auto r = std::from_chars(token.data(), token.data() + token.size(), v);
  if (r.ec != std::errc() || r.ptr != token.data() + token.size()) return false;
  *out = static_cast<double>(v);
  return true;
}

enum Family : size_t { kCpu, kResident, kVirtual, kOpenFds, kMaxFds, kStartTime };

}  // namespace

Result<ProcStat> ParseProcStat(std::string_view text) {
  const size_t close = text.rfind(')');
  if (close == std::string_view::npos) return InvalidArgument("proc stat: no ')' after the command name");
  // Whitespace-separated fields after the command name; fields[0] is field 3 (state) of proc(5).
  std::vector<std::string_view> fields;
  size_t i = close + 1;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n')) ++i;
    const size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n') ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  if (fields.size() < 22) {  // through field 24, rss
    return InvalidArgument("proc stat: {} fields after the command name", fields.size());
  }
  auto field = [&](int number, double* out) { return ParseNumber(fields[number - 3], out); };
  ProcStat s;
  if (!field(14, &s.utime_ticks) || !field(15, &s.stime_ticks) || !field(22, &s.start_ticks) ||
      !field(23, &s.vsize_bytes) || !field(24, &s.rss_pages)) {
    return InvalidArgument("proc stat: a field is not an integer");
  }
  return s;
}

Result<double> ParseBootTime(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("btime ")) {
      double v = 0;
      if (ParseNumber(line.substr(6), &v)) return v;
      return InvalidArgument("proc stat: btime \"{}\" is not an integer", line.substr(6));
    }
    pos = end + 1;
  }
  return NotFound("proc stat: no btime line");
}

Status AddProcessMetrics(Registry* registry, const ProcessMetricsOptions& options) {
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // The start time never changes: compute it once. Absent if either file is unreadable.
  std::optional<double> start_time;
  const std::optional<std::string> proc_stat = ReadSmallFile(options.proc_stat_path);
  const std::optional<std::string> self_stat = ReadSmallFile(options.proc_self_dir + "/stat");
  if (proc_stat && self_stat && ticks_per_second > 0) {
    Result<double> boot = ParseBootTime(*proc_stat);
    Result<ProcStat> stat = ParseProcStat(*self_stat);
    if (boot.ok() && stat.ok()) start_time = *boot + stat->start_ticks / ticks_per_second;
  }

  std::vector<FamilyDesc> families(6);
  families[kCpu] = {
      "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::kCounter, {}};
  families[kResident] = {"process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge, {}};
  families[kVirtual] = {"process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge, {}};
  families[kOpenFds] = {"process_open_fds", "Number of open file descriptors.", MetricType::kGauge, {}};
  families[kMaxFds] = {"process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge, {}};
  families[kStartTime] = {
      "process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::kGauge, {}};

  auto collect = [dir = options.proc_self_dir, ticks_per_second, page_size, start_time](CollectorSink& sink) {
    if (std::optional<std::string> text = ReadSmallFile(dir + "/stat")) {
      if (Result<ProcStat> s = ParseProcStat(*text); s.ok()) {
        if (ticks_per_second > 0) sink.Add(kCpu, {}, (s->utime_ticks + s->stime_ticks) / ticks_per_second);
        if (page_size > 0) sink.Add(kResident, {}, s->rss_pages * page_size);
        sink.Add(kVirtual, {}, s->vsize_bytes);
      }
    }
    if (std::optional<int64_t> fds = CountEntries(dir + "/fd")) sink.Add(kOpenFds, {}, static_cast<double>(*fds));
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      sink.Add(kMaxFds, {},
               limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                               : static_cast<double>(limit.rlim_cur));
    }
    if (start_time) sink.Add(kStartTime, {}, *start_time);
  };
  return registry->AddCollector(std::move(families), std::move(collect));
}

}  // namespace ferry::metrics
