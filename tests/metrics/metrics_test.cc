// The registry's exposition checked against text written by hand from the 0.0.4 format description, plus
// validation, removal and concurrency.
#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace ferry::metrics {
namespace {

template <typename T>
T* Must(Result<T*> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nullptr;
}
template <typename T>
std::shared_ptr<T> Must(Result<std::shared_ptr<T>> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nullptr;
}

TEST(RegistryTest, CounterGaugeHistogramExposition) {
  Registry r;
  CounterFamily* requests = Must(r.AddCounter("ferry_requests_total", "Requests received.", {"model", "code"}));
  GaugeFamily* depth = Must(r.AddGauge("ferry_queue_depth", "Requests waiting."));
  HistogramFamily* latency =
      Must(r.AddHistogram("ferry_latency_seconds", "Request latency.", {"model"}, {0.25, 0.5, 1}));

  Must(requests->WithLabels({"resnet", "200"}))->Increment(3);
  Must(requests->WithLabels({"bert", "200"}))->Increment();
  Must(requests->WithLabels({"resnet", "400"}))->Increment(2);
  Must(depth->WithLabels({}))->Set(7);
  Must(depth->WithLabels({}))->Add(-2);
  std::shared_ptr<Histogram> h = Must(latency->WithLabels({"resnet"}));
  for (double v : {0.125, 0.25, 0.75, 4.0}) h->Observe(v);  // 0.25 sits on a bound: le is inclusive

  EXPECT_EQ(r.Render(),
            "# HELP ferry_requests_total Requests received.\n"
            "# TYPE ferry_requests_total counter\n"
            "ferry_requests_total{model=\"bert\",code=\"200\"} 1\n"
            "ferry_requests_total{model=\"resnet\",code=\"200\"} 3\n"
            "ferry_requests_total{model=\"resnet\",code=\"400\"} 2\n"
            "# HELP ferry_queue_depth Requests waiting.\n"
            "# TYPE ferry_queue_depth gauge\n"
            "ferry_queue_depth 5\n"
            "# HELP ferry_latency_seconds Request latency.\n"
            "# TYPE ferry_latency_seconds histogram\n"
            "ferry_latency_seconds_bucket{model=\"resnet\",le=\"0.25\"} 2\n"
            "ferry_latency_seconds_bucket{model=\"resnet\",le=\"0.5\"} 2\n"
            "ferry_latency_seconds_bucket{model=\"resnet\",le=\"1\"} 3\n"
            "ferry_latency_seconds_bucket{model=\"resnet\",le=\"+Inf\"} 4\n"
            "ferry_latency_seconds_sum{model=\"resnet\"} 5.125\n"
            "ferry_latency_seconds_count{model=\"resnet\"} 4\n");
}

TEST(RegistryTest, HistogramWithoutLabels) {
  Registry r;
  HistogramFamily* batch = Must(r.AddHistogram("ferry_batch_size", "Batch sizes.", {}, {1, 4, 16}));
  std::shared_ptr<Histogram> h = Must(batch->WithLabels({}));
  for (double v : {1.0, 2.0, 3.0, 8.0, 100.0, 0.0}) h->Observe(v);
  h->Observe(std::nan(""));  // dropped

  EXPECT_EQ(r.Render(),
            "# HELP ferry_batch_size Batch sizes.\n"
            "# TYPE ferry_batch_size histogram\n"
            "ferry_batch_size_bucket{le=\"1\"} 2\n"
            "ferry_batch_size_bucket{le=\"4\"} 4\n"
            "ferry_batch_size_bucket{le=\"16\"} 5\n"
            "ferry_batch_size_bucket{le=\"+Inf\"} 6\n"
            "ferry_batch_size_sum 114\n"
            "ferry_batch_size_count 6\n");
  Histogram::Snapshot s = h->snapshot();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.sum, 114);
}

TEST(RegistryTest, EscapesLabelValuesAndHelp) {
  Registry r;
  GaugeFamily* g = Must(r.AddGauge("g", "Path \"C:\\x\"\nsecond line.", {"path"}));
  Must(g->WithLabels({"a\\b\"c\nd"}))->Set(1);
  Must(g->WithLabels({"caf\xc3\xa9 {x=1}, y"}))->Set(2);  // UTF-8, braces and commas need no escaping
  // HELP escapes backslash and line feed but not the double quote; label values escape all three.
  EXPECT_EQ(r.Render(),
            "# HELP g Path \"C:\\\\x\"\\nsecond line.\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\\b\\\"c\\nd\"} 1\n"
            "g{path=\"caf\xc3\xa9 {x=1}, y\"} 2\n");
}

TEST(RegistryTest, FormatsNumbersAsGoParseFloatReadsThem) {
  struct Row {
    double v;
    const char* text;
  };
  const Row rows[] = {
      {0, "0"},
      {-0.0, "0"},
      {1234567, "1234567"},  // no 1.234567e+06
      {-42, "-42"},
      {9007199254740991.0, "9007199254740991"},
      {1e20, "1e+20"},
      {0.1, "0.1"},
      {-2.5, "-2.5"},
      {1e-7, "1e-07"},
      {0.30000000000000004, "0.30000000000000004"},  // shortest text that reads back the same double
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Row& row : rows) {
    Registry r;
    Must(Must(r.AddGauge("v", "h"))->WithLabels({}))->Set(row.v);
    EXPECT_EQ(r.Render(), std::string("# HELP v h\n# TYPE v gauge\nv ") + row.text + "\n") << row.text;
  }
}

TEST(RegistryTest, CounterIgnoresNegativeAndNaN) {
  Counter c;
  c.Increment(2);
  c.Increment(-1);
  c.Increment(std::nan(""));
  EXPECT_EQ(c.value(), 2);
}

TEST(RegistryTest, FamiliesWithoutChildrenAreNotRendered) {
  Registry r;
  ASSERT_TRUE(r.AddCounter("with_labels_total", "h", {"model"}).ok());
  ASSERT_TRUE(r.AddCounter("plain_total", "h").ok());  // no labels: exported at zero from the start
  EXPECT_EQ(r.Render(), "# HELP plain_total h\n# TYPE plain_total counter\nplain_total 0\n");
}

TEST(RegistryTest, RejectsBadNames) {
  Registry r;
  EXPECT_EQ(r.AddCounter("", "h").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("1abc", "h").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("a-b", "h").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.AddCounter("ns:sub_name1", "h").ok());  // colons are allowed in metric names
  EXPECT_EQ(r.AddCounter("c1", "h", {"a:b"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("c2", "h", {"0a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("c3", "h", {"__reserved"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("c4", "h", {"a", "a"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("c5", "bad \xff help").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddHistogram("h1", "h", {"le"}, {1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.AddCounter("c6", "h", {"le", "_x"}).ok());  // "le" is reserved for histograms only
  // Nothing above that failed was registered, so the names are still free.
  EXPECT_TRUE(r.AddCounter("c1", "h", {"a_b"}).ok());
}

TEST(RegistryTest, RejectsTakenSeriesNames) {
  Registry r;
  ASSERT_TRUE(r.AddHistogram("latency", "h", {}, {1}).ok());
  EXPECT_EQ(r.AddCounter("latency", "h").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.AddGauge("latency_count", "h").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.AddGauge("latency_bucket", "h").status().code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(r.AddGauge("size_sum", "h").ok());
  EXPECT_EQ(r.AddHistogram("size", "h", {}, {1}).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(r.AddCollector({{"size_sum", "h", MetricType::kGauge, {}}}, [](CollectorSink&) {}).code(),
            StatusCode::kAlreadyExists);
}

TEST(RegistryTest, RejectsBadBuckets) {
  Registry r;
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(r.AddHistogram("h1", "h", {}, {}).ok());
  EXPECT_FALSE(r.AddHistogram("h2", "h", {}, {inf}).ok());
  EXPECT_FALSE(r.AddHistogram("h3", "h", {}, {1, 1}).ok());
  EXPECT_FALSE(r.AddHistogram("h4", "h", {}, {2, 1}).ok());
  EXPECT_FALSE(r.AddHistogram("h5", "h", {}, {1, std::nan("")}).ok());
  EXPECT_FALSE(r.AddHistogram("h6", "h", {}, {-inf, 1}).ok());
  EXPECT_FALSE(r.AddHistogram("h7", "h", {}, ExponentialBuckets(0, 2, 3)).ok());
  // A trailing +Inf is accepted and not doubled.
  HistogramFamily* h = Must(r.AddHistogram("h8", "h", {}, {-1, 1, inf}));
  Must(h->WithLabels({}))->Observe(-5);
  EXPECT_EQ(r.Render(),
            "# HELP h8 h\n# TYPE h8 histogram\n"
            "h8_bucket{le=\"-1\"} 1\nh8_bucket{le=\"1\"} 1\nh8_bucket{le=\"+Inf\"} 1\nh8_sum -5\nh8_count 1\n");
}

TEST(RegistryTest, WithLabelsChecksValues) {
  Registry r;
  CounterFamily* c = Must(r.AddCounter("c_total", "h", {"a", "b"}));
  EXPECT_EQ(c->WithLabels({"x"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->WithLabels({"x", "y", "z"}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->WithLabels({"x", "\xc0\xaf"}).status().code(), StatusCode::kInvalidArgument);      // overlong '/'
  EXPECT_EQ(c->WithLabels({"x", "\xed\xa0\x80"}).status().code(), StatusCode::kInvalidArgument);  // surrogate
  EXPECT_EQ(c->size(), 0u);
  // The same values give the same child.
  EXPECT_EQ(Must(c->WithLabels({"x", ""})).get(), Must(c->WithLabels({"x", ""})).get());
  EXPECT_EQ(c->size(), 1u);
}

TEST(RegistryTest, RemoveDetachesChildren) {
  Registry r;
  CounterFamily* c = Must(r.AddCounter("req_total", "h", {"model", "version", "code"}));
  std::shared_ptr<Counter> kept = Must(c->WithLabels({"m", "1", "200"}));
  kept->Increment(5);
  Must(c->WithLabels({"m", "1", "500"}))->Increment();
  Must(c->WithLabels({"m", "2", "200"}))->Increment(2);
  Must(c->WithLabels({"n", "1", "200"}))->Increment(3);

  EXPECT_TRUE(c->Remove({"n", "1", "200"}));
  EXPECT_FALSE(c->Remove({"n", "1", "200"}));
  EXPECT_EQ(c->RemovePrefix({"m", "1"}), 2u);  // version 1 of m unloaded
  EXPECT_EQ(c->RemovePrefix({"m", "1", "200", "extra"}), 0u);
  EXPECT_EQ(r.Render(),
            "# HELP req_total h\n# TYPE req_total counter\nreq_total{model=\"m\",version=\"2\",code=\"200\"} 2\n");

  // A holder of a removed child may still update it; nothing is exported, and the values start over if the
  // child is created again.
  kept->Increment();
  EXPECT_EQ(kept->value(), 6);
  std::shared_ptr<Counter> fresh = Must(c->WithLabels({"m", "1", "200"}));
  EXPECT_NE(fresh.get(), kept.get());
  EXPECT_EQ(fresh->value(), 0);

  EXPECT_EQ(c->RemovePrefix({}), 2u);
  EXPECT_EQ(r.Render(), "");
}

TEST(RegistryTest, RemoveMatchingIgnoresTheOtherLabels) {
  Registry r;
  CounterFamily* c = Must(r.AddCounter("req_total", "h", {"protocol", "model", "version", "code"}));
  for (const char* protocol : {"tfs", "kserve"}) {
    for (const char* code : {"200", "400"}) {
      Must(c->WithLabels({protocol, "m", "1", code}))->Increment();
      Must(c->WithLabels({protocol, "m", "2", code}))->Increment();
    }
  }
  Must(c->WithLabels({"tfs", "m1", "1", "200"}))->Increment();  // another model with a similar name
  EXPECT_EQ(c->size(), 9u);
  EXPECT_EQ(c->RemoveMatching({{"model", "m"}, {"version", "3"}}), 0u);
  EXPECT_EQ(c->RemoveMatching({{"model", "m"}, {"no_such_label", "1"}}), 0u);
  EXPECT_EQ(c->RemoveMatching({{"model", "m"}, {"version", "1"}}), 4u);  // 2 protocols x 2 codes
  EXPECT_EQ(c->size(), 5u);
  EXPECT_EQ(c->RemoveMatching({{"version", "1"}}), 1u);
  EXPECT_EQ(r.Render(),
            "# HELP req_total h\n# TYPE req_total counter\n"
            "req_total{protocol=\"kserve\",model=\"m\",version=\"2\",code=\"200\"} 1\n"
            "req_total{protocol=\"kserve\",model=\"m\",version=\"2\",code=\"400\"} 1\n"
            "req_total{protocol=\"tfs\",model=\"m\",version=\"2\",code=\"200\"} 1\n"
            "req_total{protocol=\"tfs\",model=\"m\",version=\"2\",code=\"400\"} 1\n");
  EXPECT_EQ(c->RemoveMatching({}), 4u);
  EXPECT_EQ(r.Render(), "");
}

TEST(RegistryTest, CollectorsRenderInRegistrationOrder) {
  Registry r;
  ASSERT_TRUE(r.AddGauge("first", "h").ok());
  int calls = 0;
  ASSERT_TRUE(r.AddCollector({{"queue_depth", "Requests queued.", MetricType::kGauge, {"model"}},
                              {"loads_total", "Loads.", MetricType::kCounter, {}},
                              {"empty", "No samples.", MetricType::kGauge, {}}},
                             [&calls](CollectorSink& sink) {
                               ++calls;
                               sink.Add(0, {"a\"b"}, 3);
                               sink.Add(0, {"c"}, 0.5);
                               sink.Add(0, {}, 1);  // wrong label count: dropped
                               sink.Add(7, {}, 1);  // no such family: dropped
                               sink.Add(1, {}, calls);
                             })
                  .ok());
  ASSERT_TRUE(r.AddGauge("last", "h").ok());
  const std::string expected =
      "# HELP first h\n# TYPE first gauge\nfirst 0\n"
      "# HELP queue_depth Requests queued.\n# TYPE queue_depth gauge\n"
      "queue_depth{model=\"a\\\"b\"} 3\nqueue_depth{model=\"c\"} 0.5\n"
      "# HELP loads_total Loads.\n# TYPE loads_total counter\nloads_total 1\n"
      "# HELP last h\n# TYPE last gauge\nlast 0\n";
  EXPECT_EQ(r.Render(), expected);
  EXPECT_EQ(calls, 1);
}

TEST(RegistryTest, CollectorValidation) {
  Registry r;
  EXPECT_FALSE(r.AddCollector({{"x", "h", MetricType::kHistogram, {}}}, [](CollectorSink&) {}).ok());
  EXPECT_FALSE(r.AddCollector({{"bad name", "h", MetricType::kGauge, {}}}, [](CollectorSink&) {}).ok());
  EXPECT_FALSE(r.AddCollector({{"x", "h", MetricType::kGauge, {}}}, nullptr).ok());
  // Two families of one collector may not share a name either.
  EXPECT_EQ(
      r.AddCollector({{"y", "h", MetricType::kGauge, {}}, {"y", "h", MetricType::kGauge, {}}}, [](CollectorSink&) {})
          .code(),
      StatusCode::kAlreadyExists);
  EXPECT_TRUE(r.AddGauge("y", "h").ok());
}

TEST(BucketsTest, ExponentialAndLinear) {
  EXPECT_EQ(ExponentialBuckets(0.001, 10, 4), (std::vector<double>{0.001, 0.01, 0.1, 1}));
  EXPECT_EQ(ExponentialBuckets(1, 2, 5), (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_EQ(ExponentialBuckets(0.0001, 2.5, 3), (std::vector<double>{0.0001, 0.00025, 0.000625}));
  EXPECT_TRUE(ExponentialBuckets(1, 1, 3).empty());
  EXPECT_TRUE(ExponentialBuckets(-1, 2, 3).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 2, 0).empty());
  EXPECT_EQ(LinearBuckets(0.1, 0.1, 3), (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(LinearBuckets(-1, 1, 3), (std::vector<double>{-1, 0, 1}));
  EXPECT_TRUE(LinearBuckets(0, 0, 3).empty());
}

TEST(ConcurrencyTest, IncrementsFromEightThreadsSumExactly) {
  Registry r;
  CounterFamily* c = Must(r.AddCounter("hits_total", "h", {"thread_group"}));
  HistogramFamily* hf = Must(r.AddHistogram("obs", "h", {}, {0.5, 1.5}));
  std::shared_ptr<Counter> shared = Must(c->WithLabels({"all"}));
  std::shared_ptr<Histogram> h = Must(hf->WithLabels({}));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200000;
  std::atomic<bool> done{false};
  // Scrapes, lookups of new children and removals run alongside the increments.
  std::thread scraper([&] {
    while (!done.load()) {
      std::string text = r.Render();
      EXPECT_NE(text.find("hits_total{thread_group=\"all\"}"), std::string::npos);
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        shared->Increment();
        h->Observe(i % 2);  // 0 -> le 0.5, 1 -> le 1.5
        if (i % 10000 == 0) {
          auto child = c->WithLabels({"t" + std::to_string(t)});
          ASSERT_TRUE(child.ok());
          (*child)->Increment();
          c->Remove({"t" + std::to_string(t)});
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();

  EXPECT_EQ(shared->value(), kThreads * kPerThread);
  const Histogram::Snapshot s = h->snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(s.cumulative_counts,
            (std::vector<uint64_t>{kThreads * kPerThread / 2, kThreads * kPerThread, kThreads * kPerThread}));
  EXPECT_EQ(s.sum, kThreads * kPerThread / 2);
  EXPECT_EQ(c->size(), 1u);
  EXPECT_NE(r.Render().find("hits_total{thread_group=\"all\"} 1600000\n"), std::string::npos);
}

}  // namespace
}  // namespace ferry::metrics
