// Prometheus metrics: counters, gauges and histograms grouped into labeled families, and a Registry that renders
// them in the text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// A leaf module (depends only on common), so every layer may record metrics. Updates are relaxed atomics with no
// lock, so a scrape (Registry::Render) runs concurrently with the hot path and never blocks it. Every class is
// thread-safe except CollectorSink, which lives for one collector call on the scraping thread.
//
// Typical use:
//   FERRY_ASSIGN_OR_RETURN(CounterFamily* requests,
//                          registry.AddCounter("ferry_requests_total", "Requests received.", {"model", "version"}));
//   FERRY_ASSIGN_OR_RETURN(std::shared_ptr<Counter> c, requests->WithLabels({"resnet", "3"}));
//   c->Increment();  // keep `c`: the lookup takes a lock, the increment does not
//   ...
//   requests->RemovePrefix({"resnet", "3"});  // the version unloaded: its series leave the exposition
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/thread_annotations.h"
#include "ferry/status.h"

namespace ferry::metrics {

// The HTTP Content-Type of Registry::Render's output.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

// "counter", "gauge", ... as written on a # TYPE line.
const char* MetricTypeName(MetricType type);

// A monotonically increasing value (requests served, bytes sent). Lock-free.
class Counter {
 public:
  // Adds `v`. Negative and NaN amounts are ignored: a counter never goes down.
  void Increment(double v = 1) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (queue depth, bytes in use). Lock-free.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets (request latency, batch size). Observe is lock-free: one binary search
// over the bounds and two atomic adds.
class Histogram {
 public:
  // The counts as a scrape sees them. `count` always equals cumulative_counts.back() (the +Inf bucket); `sum`
  // may lag the counts by the observations in flight.
  struct Snapshot {
    std::vector<uint64_t> cumulative_counts;  // one per upper bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };

  // REQUIRES: `upper_bounds` finite and strictly ascending (+Inf is implied). Families check this for you.
  explicit Histogram(std::vector<double> upper_bounds);

  // Counts `v` in the first bucket whose upper bound is >= v. NaN is ignored (it would poison the sum forever).
  void Observe(double v);

  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  // Per bucket, not cumulative, so an observation touches one bucket; the last is (largest bound, +Inf].
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

namespace internal {
// One block of the exposition: a family, or the families of a collector.
class Section {
 public:
  virtual ~Section() = default;
  virtual void Render(std::string* out) const = 0;
};
}  // namespace internal

// All series of one metric name, one child per distinct tuple of label values. Created by a Registry, which owns
// it: the pointer stays valid for the registry's lifetime.
//
// Children are shared_ptrs so that a caller may keep one for its hot path (the lookup takes a lock). Removing a
// child only detaches it: a holder can go on updating it, its updates are just no longer exported, and a later
// WithLabels with the same values starts a fresh child at zero.
template <typename T>
class Family final : public internal::Section {
 public:
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // The child for `label_values` (given in the order of label_names()), created at zero on first use.
  // InvalidArgument if the number of values differs from the number of label names or a value is not UTF-8.
  // A family without labels has one child, WithLabels({}), exported from registration on.
  Result<std::shared_ptr<T>> WithLabels(const std::vector<std::string>& label_values);

  // Detaches the child with exactly these values; false if there was none.
  bool Remove(const std::vector<std::string>& label_values);
  // Detaches every child whose first prefix.size() label values equal `prefix` (e.g. {model, version} when a
  // version unloads); returns how many. An empty prefix removes all children.
  size_t RemovePrefix(const std::vector<std::string>& prefix);
  // Detaches every child whose labels named in `match` have the given values, whatever its other labels (e.g.
  // {{"model", "m"}, {"version", "2"}} for every protocol and code); returns how many. A name that is not one of
  // label_names() matches nothing; an empty `match` removes all children.
  size_t RemoveMatching(const std::map<std::string, std::string>& match);

  // Number of children now exported.
  size_t size() const;

  void Render(std::string* out) const override;

 private:
  friend class Registry;
  struct Child {
    std::string labels_text;  // `a="x",b="y"`, rendered once at creation
    std::shared_ptr<T> metric;
  };

  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> upper_bounds);
  std::shared_ptr<T> NewMetric() const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> upper_bounds_;  // histograms only
  mutable SharedMutex mu_;
  std::map<std::vector<std::string>, Child> children_ GUARDED_BY(mu_);  // ordered, so the output is stable
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

// Describes one family that a collector produces at scrape time.
struct FamilyDesc {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;  // kCounter, kGauge or kUntyped
  std::vector<std::string> label_names;
};

// Receives a collector's samples during one scrape. Not thread-safe: the collector fills it from the thread that
// called it.
class CollectorSink {
 public:
  explicit CollectorSink(size_t num_families) : samples_(num_families) {}

  // Adds a sample to family `family` (an index into the collector's FamilyDesc list). A sample with a bad index,
  // the wrong number of label values or a value that is not UTF-8 is dropped. The collector must not add the same
  // label values twice to one family.
  void Add(size_t family, std::vector<std::string> label_values, double value);

 private:
  friend class CollectorSection;
  struct Sample {
    std::vector<std::string> label_values;
    double value;
  };
  std::vector<std::vector<Sample>> samples_;
};

// Called on the scraping thread for every Render. Must be thread-safe against the collector's own state, must not
// call back into the Registry's Add* methods, and should be quick (it delays the scrape, nothing else).
using CollectFn = std::function<void(CollectorSink& sink)>;

// Holds the families and renders them. Families are rendered in registration order.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each Add* validates the names (metric: [a-zA-Z_:][a-zA-Z0-9_:]*; label: [a-zA-Z_][a-zA-Z0-9_]*, not starting
  // with "__", distinct) and returns InvalidArgument on a bad one, AlreadyExists when a series name it would
  // export is taken (a histogram `x` exports x, x_bucket, x_sum, x_count). The help text must be UTF-8.
  Result<CounterFamily*> AddCounter(std::string name, std::string help, std::vector<std::string> label_names = {});
  Result<GaugeFamily*> AddGauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `buckets`: upper bounds, finite and strictly ascending, at least one; a trailing +Inf is accepted and dropped
  // (+Inf is always implied). The label name "le" is reserved.
  Result<HistogramFamily*> AddHistogram(std::string name, std::string help, std::vector<std::string> label_names,
                                        std::vector<double> buckets);

  // Families whose samples are computed at scrape time (queue depths, memory per model, process statistics).
  // `families` are validated as above; `collect` is called once per Render and fills the sink.
  Status AddCollector(std::vector<FamilyDesc> families, CollectFn collect);

  // The whole exposition. Safe to call concurrently with updates and registrations; each value is read atomically,
  // but a scrape is not a snapshot across series.
  std::string Render() const;

 private:
  // Validates the names of a family and reserves the series names it exports.
  Status Reserve(const std::string& name, const std::string& help, MetricType type,
                 const std::vector<std::string>& label_names, std::set<std::string>* reserved) const REQUIRES(mu_);

  // Appends `section` and takes the series names `reserved` for it.
  template <typename S>
  S* Adopt(std::unique_ptr<S> section, std::set<std::string>* reserved) REQUIRES(mu_);

  mutable Mutex mu_;
  // Entries are never removed, so Render may use them after copying the pointers.
  std::vector<std::unique_ptr<internal::Section>> sections_ GUARDED_BY(mu_);
  std::set<std::string> series_names_ GUARDED_BY(mu_);
};

// `count` bounds start, start*factor, start*factor^2, ... rounded to 15 significant digits so that they print
// cleanly (0.001 * 10^k gives 0.01, not 0.010000000000000002). Empty if start <= 0, factor <= 1 or count < 1,
// which AddHistogram then refuses.
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` bounds start, start+width, ... (rounded likewise). Empty if width <= 0 or count < 1.
std::vector<double> LinearBuckets(double start, double width, int count);

}  // namespace ferry::metrics
