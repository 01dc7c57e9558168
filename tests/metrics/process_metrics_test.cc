// The /proc parsers against lines written by hand from proc(5), and the live collector for plausible values.
#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <ctime>

namespace ferry::metrics {
namespace {

TEST(ProcStatTest, ParsesFieldsAfterTheLastParenthesis) {
  // Fields 1..24; the command name holds spaces and parentheses. utime=14 stime=15 starttime=22 vsize=23 rss=24.
  const std::string line =
      "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 9 0 123456 987654321 4321 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  Result<ProcStat> s = ParseProcStat(line);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->utime_ticks, 250);
  EXPECT_EQ(s->stime_ticks, 75);
  EXPECT_EQ(s->start_ticks, 123456);
  EXPECT_EQ(s->vsize_bytes, 987654321);
  EXPECT_EQ(s->rss_pages, 4321);
}

TEST(ProcStatTest, RejectsMalformed) {
  EXPECT_FALSE(ParseProcStat("").ok());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2 3").ok());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 75 0 0 20 0 9 0 1 2 3\n").ok());
}

TEST(ProcStatTest, ParsesBootTime) {
  Result<double> b = ParseBootTime("cpu  1 2 3\nintr 5\nctxt 9\nbtime 1700000000\nprocesses 12\n");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, 1700000000);
  EXPECT_EQ(ParseBootTime("cpu 1\n").status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ParseBootTime("btime x\n").ok());
}

// The value of the unlabeled sample `name` in `text`, NaN if absent.
double SampleValue(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t pos = ("\n" + text).find(key);
  if (pos == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + pos + key.size() - 1, nullptr);
}

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

TEST(ProcessMetricsTest, LiveValuesArePlausible) {
  Registry r;
  ASSERT_TRUE(AddProcessMetrics(&r).ok());
  EXPECT_EQ(AddProcessMetrics(&r).code(), StatusCode::kAlreadyExists);

  // Hold a few descriptors of our own so the count has something to see beyond stdin/stdout/stderr.
  int fds[3];
  for (int& fd : fds) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const std::string before = r.Render();
  for (int fd : fds) ::close(fd);

  EXPECT_NE(before.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos) << before;
  EXPECT_NE(before.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos) << before;
  EXPECT_GT(SampleValue(before, "process_resident_memory_bytes"), 0);
  EXPECT_GT(SampleValue(before, "process_virtual_memory_bytes"), SampleValue(before, "process_resident_memory_bytes"));
  EXPECT_GE(SampleValue(before, "process_open_fds"), 3);
  EXPECT_GE(SampleValue(before, "process_max_fds"), SampleValue(before, "process_open_fds"));
  const double start = SampleValue(before, "process_start_time_seconds");
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(start, now - 24 * 3600) << "the test process started within the last day";
  EXPECT_LE(start, now + 1);

  // Burn 300 ms of CPU as the kernel's own per-process clock counts it (clock ticks are usually 10 ms), however
  // busy the machine is, and check the counter moved.
  const double cpu_before = SampleValue(before, "process_cpu_seconds_total");
  ASSERT_GE(cpu_before, 0);
  const double burn_from = ProcessCpuSeconds();
  volatile double sink = 0;
  while (ProcessCpuSeconds() < burn_from + 0.3) {
    for (int i = 0; i < 10000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  }
  const double cpu_after = SampleValue(r.Render(), "process_cpu_seconds_total");
  EXPECT_GT(cpu_after, cpu_before + 0.1);
}

TEST(ProcessMetricsTest, MissingProcLeavesSamplesOut) {
  Registry r;
  ProcessMetricsOptions options;
  options.proc_self_dir = "/nonexistent/self";
  options.proc_stat_path = "/nonexistent/stat";
  ASSERT_TRUE(AddProcessMetrics(&r, options).ok());
  const std::string text = r.Render();
  EXPECT_EQ(text.find("process_cpu_seconds_total"), std::string::npos);
  EXPECT_EQ(text.find("process_open_fds"), std::string::npos);
  EXPECT_EQ(text.find("process_start_time_seconds"), std::string::npos);
  EXPECT_NE(text.find("process_max_fds "), std::string::npos);  // from getrlimit, not /proc
}

}  // namespace
}  // namespace ferry::metrics
