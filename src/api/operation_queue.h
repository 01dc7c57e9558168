// OperationQueue: a few threads that run repository operations (uploads, deletes, config edits, load/unload)
// off the HTTP I/O threads, with a bounded queue. Those operations load models and may take seconds; one thread
// per request (as before) let 3,000 queued requests start 3,000 threads. Beyond the queue, Submit refuses and
// the caller answers 503.
//
// Thread safety: Submit may be called from any thread. The destructor runs what is queued, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"

namespace ferry::api {

class OperationQueue {
 public:
  // REQUIRES: threads >= 1, max_queued >= 1.
  OperationQueue(int threads, size_t max_queued);
  ~OperationQueue();
  OperationQueue(const OperationQueue&) = delete;
  OperationQueue& operator=(const OperationQueue&) = delete;

  // Queues `op`; false (and `op` dropped) when max_queued operations are already waiting. An exception thrown
  // by `op` is caught and dropped: `op` answers its own request.
  bool Submit(std::function<void()> op) EXCLUDES(mu_);

  size_t queued() const EXCLUDES(mu_);

 private:
  void Work() EXCLUDES(mu_);

  const size_t max_queued_;
  mutable Mutex mu_;
  std::condition_variable_any wake_;
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ferry::api
