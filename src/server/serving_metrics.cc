#include "server/serving_metrics.h"

#include <map>

#include "backends/device_registry.h"
#include "metrics/process_metrics.h"
#include "server/model_manager.h"

namespace ferry {

namespace {

const std::string kNone;  // the model and version labels of requests that reached no loaded version

// 100 us .. ~100 s.
std::vector<double> LatencyBuckets() { return metrics::ExponentialBuckets(0.0001, 2, 21); }

template <typename T>
void Use(metrics::Family<T>* family, const std::vector<std::string>& labels, const std::function<void(T&)>& fn) {
  Result<std::shared_ptr<T>> child = family->WithLabels(labels);
  if (child.ok()) fn(**child);
}

}  // namespace

Result<std::unique_ptr<ServingMetrics>> ServingMetrics::Create() {
  std::unique_ptr<ServingMetrics> m(new ServingMetrics());
  metrics::Registry& r = m->registry_;
  FERRY_ASSIGN_OR_RETURN(m->requests_, r.AddCounter("ferry_requests_total", "Requests answered, by HTTP status code.",
                                                    {"protocol", "model", "version", "code"}));
  FERRY_ASSIGN_OR_RETURN(
      m->request_seconds_,
      r.AddHistogram("ferry_request_duration_seconds", "Whole request latency, from the HTTP handler to the reply.",
                     {"protocol", "model", "version"}, LatencyBuckets()));
  FERRY_ASSIGN_OR_RETURN(m->queue_seconds_,
                         r.AddHistogram("ferry_queue_duration_seconds",
                                        "Time a request waited in its version's queue before its batch started.",
                                        {"model", "version"}, LatencyBuckets()));
  FERRY_ASSIGN_OR_RETURN(m->compute_seconds_,
                         r.AddHistogram("ferry_compute_duration_seconds",
                                        "Compute time of the batch a request ran in (inputs, run, outputs).",
                                        {"model", "version"}, LatencyBuckets()));
  FERRY_ASSIGN_OR_RETURN(m->batch_size_, r.AddHistogram("ferry_batch_size", "Rows per executed batch.",
                                                        {"model", "version"}, metrics::ExponentialBuckets(1, 2, 11)));
  FERRY_ASSIGN_OR_RETURN(metrics::GaugeFamily * in_flight,
                         r.AddGauge("ferry_inflight_requests", "Requests handed to the API and not yet answered."));
  FERRY_ASSIGN_OR_RETURN(m->in_flight_, in_flight->WithLabels({}));
  FERRY_ASSIGN_OR_RETURN(m->load_seconds_, r.AddGauge("ferry_model_load_duration_seconds",
                                                      "How long loading the version took.", {"model", "version"}));
  FERRY_RETURN_IF_ERROR(metrics::AddProcessMetrics(&r));
  return m;
}

Status ServingMetrics::WatchManager(const ModelManager* manager) {
  std::vector<metrics::FamilyDesc> families{
      {"ferry_queue_depth",
       "Requests waiting in the version's queue.",
       metrics::MetricType::kGauge,
       {"model", "version"}},
      {"ferry_model_memory_bytes",
       "Memory of a loaded version by device: its weights (the host copy, and each device's), and the memory its "
       "instances planned up front (arenas, staging).",
       metrics::MetricType::kGauge,
       {"model", "version", "device", "kind"}},
  };
  return registry_.AddCollector(std::move(families), [manager](metrics::CollectorSink& sink) {
    for (const ModelStatus& m : manager->GetStatus()) {
      for (const VersionStatus& v : m.versions) {
        if (v.state != VersionState::kAvailable) continue;
        Result<VersionHandle> handle = manager->Acquire(m.name, v.version);
        if (!handle.ok()) continue;
        const std::string version = std::to_string(v.version);
        const ModelVersion& mv = **handle;
        if (mv.scheduler) sink.Add(0, {m.name, version}, static_cast<double>(mv.scheduler->queue_depth()));
        sink.Add(1, {m.name, version, "cpu", "weights"}, static_cast<double>(mv.model->weight_bytes()));
        for (const auto& [location, bytes] : mv.model->DeviceWeightBytes()) {
          const std::string device(DeviceRegistry::Global().Get(location)->id());
          sink.Add(1, {m.name, version, device, "weights"}, static_cast<double>(bytes));
        }
        if (mv.scheduler) {
          for (const auto& [device, bytes] : mv.scheduler->planned_bytes()) {
            sink.Add(1, {m.name, version, device, "planned_intermediates"}, static_cast<double>(bytes));
          }
        }
      }
    }
  });
}

void ServingMetrics::RecordRequest(const std::string& protocol, const std::string& model, const std::string& version,
                                   int code, double seconds) {
  ReaderMutexLock lock(live_mu_);
  const bool live = live_.count({model, version}) > 0;
  const std::string& m = live ? model : kNone;
  const std::string& v = live ? version : kNone;
  Use<metrics::Counter>(requests_, {protocol, m, v, std::to_string(code)}, [](metrics::Counter& c) { c.Increment(); });
  Use<metrics::Histogram>(request_seconds_, {protocol, m, v}, [seconds](metrics::Histogram& h) { h.Observe(seconds); });
}

void ServingMetrics::RecordTiming(const std::string& model, int64_t version, const RequestTiming& timing) {
  const std::string v = std::to_string(version);
  ReaderMutexLock lock(live_mu_);
  if (!live_.count({model, v})) return;
  Use<metrics::Histogram>(queue_seconds_, {model, v}, [&](metrics::Histogram& h) { h.Observe(timing.queue_seconds); });
  Use<metrics::Histogram>(compute_seconds_, {model, v},
                          [&](metrics::Histogram& h) { h.Observe(timing.compute_seconds); });
}

void ServingMetrics::RecordBatch(const std::string& model, int64_t version, int64_t rows) {
  ReaderMutexLock lock(live_mu_);
  if (!live_.count({model, std::to_string(version)})) return;
  Use<metrics::Histogram>(batch_size_, {model, std::to_string(version)},
                          [rows](metrics::Histogram& h) { h.Observe(static_cast<double>(rows)); });
}

void ServingMetrics::RecordLoad(const std::string& model, int64_t version, double seconds) {
  WriterMutexLock lock(live_mu_);
  live_.emplace(model, std::to_string(version));
  Use<metrics::Gauge>(load_seconds_, {model, std::to_string(version)},
                      [seconds](metrics::Gauge& g) { g.Set(seconds); });
}

void ServingMetrics::ForgetVersion(const std::string& model, int64_t version) {
  const std::vector<std::string> prefix{model, std::to_string(version)};
  WriterMutexLock lock(live_mu_);
  live_.erase({prefix[0], prefix[1]});
  // Request series lead with the protocol, and the counter has a series per status code.
  const std::map<std::string, std::string> match{{"model", model}, {"version", prefix[1]}};
  requests_->RemoveMatching(match);
  request_seconds_->RemoveMatching(match);
  queue_seconds_->RemovePrefix(prefix);
  compute_seconds_->RemovePrefix(prefix);
  batch_size_->RemovePrefix(prefix);
  load_seconds_->RemovePrefix(prefix);
}

}  // namespace ferry
