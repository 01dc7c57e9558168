// The standard process metrics every Prometheus client library exports (process_cpu_seconds_total,
// process_resident_memory_bytes, ...), read from /proc when a scrape renders them. Linux only: where /proc is
// missing or unreadable the samples are simply absent from the exposition.
#pragma once

#include <string>
#include <string_view>

#include "ferry/status.h"
#include "metrics/metrics.h"

namespace ferry::metrics {

struct ProcessMetricsOptions {
  // Holds `stat` and the `fd/` folder; a test may point this at a fake.
  std::string proc_self_dir = "/proc/self";
  // System-wide /proc/stat, for the boot time (`btime`) that process_start_time_seconds counts from.
  std::string proc_stat_path = "/proc/stat";
};

// Registers a collector for process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and process_start_time_seconds. Fails only if
// those names are already registered. Reads the boot time and the clock tick once, here.
Status AddProcessMetrics(Registry* registry, const ProcessMetricsOptions& options = {});

// The fields of /proc/<pid>/stat we export, in the file's units (see proc(5)).
struct ProcStat {
  double utime_ticks = 0;  // user CPU time, clock ticks
  double stime_ticks = 0;  // system CPU time, clock ticks
  double start_ticks = 0;  // start time after boot, clock ticks
  double vsize_bytes = 0;  // virtual memory size
  double rss_pages = 0;    // resident set size
};

// Parses the text of /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses, so fields
// are counted from the last ')'.
Result<ProcStat> ParseProcStat(std::string_view text);

// The `btime` line of /proc/stat: the boot time in seconds since the epoch.
Result<double> ParseBootTime(std::string_view proc_stat_text);

}  // namespace ferry::metrics
