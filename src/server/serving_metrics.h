// ServingMetrics: the daemon's Prometheus metrics (GET /metrics), kept in one metrics::Registry.
//
//   ferry_requests_total{protocol,model,version,code}        requests answered, by HTTP status code
//   ferry_request_duration_seconds{protocol,model,version}   whole request, HTTP handler to reply (histogram)
//   ferry_queue_duration_seconds{model,version}              enqueue -> its batch started (histogram)
//   ferry_compute_duration_seconds{model,version}            the batch's assembly + run + split (histogram)
//   ferry_batch_size{model,version}                          rows per executed batch (histogram)
//   ferry_queue_depth{model,version}                         requests waiting (at scrape time)
//   ferry_inflight_requests                                  requests handed to the API and not yet answered
//   ferry_model_load_duration_seconds{model,version}         how long the version's load took
//   ferry_model_memory_bytes{model,version,device,kind}      weights and planned intermediate memory
//   process_*                                                resident memory, CPU seconds, open files, ...
//
// Model and version labels come only from versions that are loaded (between RecordLoad and ForgetVersion), so
// unknown names in URLs cannot grow the series without bound, and a reply recorded after its version ended (the
// DELETE of that version, the last request of an unloading one) cannot bring the version's series back: it is
// counted without model and version. A version's series are dropped when it ends. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "common/thread_annotations.h"
#include "ferry/status.h"
#include "metrics/metrics.h"
#include "scheduler/scheduler.h"

namespace ferry {

class ModelManager;

class ServingMetrics {
 public:
  static Result<std::unique_ptr<ServingMetrics>> Create();

  // Adds the scrape-time collectors that read the manager (queue depth, memory). REQUIRES: `manager` outlives
  // this object's Render calls.
  Status WatchManager(const ModelManager* manager);

  void RecordRequest(const std::string& protocol, const std::string& model, const std::string& version, int code,
                     double seconds);
  void RecordTiming(const std::string& model, int64_t version, const RequestTiming& timing);
  void RecordBatch(const std::string& model, int64_t version, int64_t rows);
  // The version is loaded (AVAILABLE): from now on its requests are labeled with it.
  void RecordLoad(const std::string& model, int64_t version, double seconds);
  // Drops every series labeled with this version (requests of every protocol and code, timings, batch sizes,
  // load time), when the version ends: unloaded or deleted versions leave nothing in the exposition.
  void ForgetVersion(const std::string& model, int64_t version);
  metrics::Gauge& in_flight() { return *in_flight_; }

  // The exposition text (metrics::kContentType).
  std::string Render() const { return registry_.Render(); }

 private:
  ServingMetrics() = default;

  metrics::Registry registry_;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::HistogramFamily* request_seconds_ = nullptr;
  metrics::HistogramFamily* queue_seconds_ = nullptr;
  metrics::HistogramFamily* compute_seconds_ = nullptr;
  metrics::HistogramFamily* batch_size_ = nullptr;
  metrics::GaugeFamily* load_seconds_ = nullptr;
  std::shared_ptr<metrics::Gauge> in_flight_;
  // Loaded versions, (model, version). Held (shared by the Record calls, exclusively by RecordLoad and
  // ForgetVersion) while a version's series are looked up or dropped, so a lookup never recreates a series that
  // ForgetVersion is dropping. Taken before the families' own locks.
  mutable SharedMutex live_mu_;
  std::set<std::pair<std::string, std::string>> live_ GUARDED_BY(live_mu_);
};

}  // namespace ferry
