// ServingMetrics: a version's series leave the exposition when it ends, whatever their protocol or status code,
// and a reply recorded after its version ended does not bring them back. Expected lines written by hand.
#include "server/serving_metrics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace ferry {
namespace {

// The sample lines of `text` (no # lines) that carry the label `model="<model>"`.
std::vector<std::string> SeriesOf(const std::string& text, const std::string& model) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#' && line.find("model=\"" + model + "\"") != std::string::npos)
      out.push_back(line);
  }
  return out;
}

size_t CountWith(const std::vector<std::string>& lines, const std::string& part) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(part) != std::string::npos;
  return n;
}

TEST(ServingMetricsTest, AnEndedVersionLeavesNoSeries) {
  auto created = ServingMetrics::Create();
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ServingMetrics& m = **created;
  m.RecordLoad("m", 1, 0.5);
  m.RecordLoad("m", 2, 0.25);
  for (int64_t v : {1, 2}) {
    const std::string version = std::to_string(v);
    m.RecordRequest("tfs", "m", version, 200, 0.001);
    m.RecordRequest("tfs", "m", version, 400, 0.001);
    m.RecordRequest("kserve", "m", version, 200, 0.001);
    m.RecordTiming("m", v, RequestTiming{0.001, 0.002});
    m.RecordBatch("m", v, 4);
  }
  // Per version: 3 request counters; 2 request histograms, 2 timing histograms and the batch histogram, each
  // with 21 or 11 buckets + Inf + sum + count; 1 load gauge. 3 + 2 * 24 + 2 * 24 + 14 + 1 = 114.
  const std::vector<std::string> before = SeriesOf(m.Render(), "m");
  EXPECT_EQ(CountWith(before, "version=\"1\""), 114u);
  EXPECT_EQ(CountWith(before, "version=\"2\""), 114u);

  m.ForgetVersion("m", 1);
  const std::vector<std::string> after = SeriesOf(m.Render(), "m");
  EXPECT_EQ(CountWith(after, "version=\"1\""), 0u);
  EXPECT_EQ(CountWith(after, "version=\"2\""), 114u);

  // A reply recorded after the version ended (e.g. the DELETE that ended it) is counted without its labels.
  m.RecordRequest("ferry", "m", "1", 200, 0.001);
  m.RecordTiming("m", 1, RequestTiming{0.001, 0.002});
  m.RecordBatch("m", 1, 4);
  const std::string text = m.Render();
  EXPECT_EQ(CountWith(SeriesOf(text, "m"), "version=\"1\""), 0u);
  EXPECT_NE(text.find("ferry_requests_total{protocol=\"ferry\",model=\"\",version=\"\",code=\"200\"} 1"),
            std::string::npos);

  // Loaded again (re-uploaded under the same number), it is labeled again, from zero.
  m.RecordLoad("m", 1, 0.5);
  m.RecordRequest("tfs", "m", "1", 200, 0.001);
  EXPECT_NE(m.Render().find("ferry_requests_total{protocol=\"tfs\",model=\"m\",version=\"1\",code=\"200\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace ferry
