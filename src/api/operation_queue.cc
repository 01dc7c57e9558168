#include "api/operation_queue.h"

#include <utility>

namespace ferry::api {

OperationQueue::OperationQueue(int threads, size_t max_queued) : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

OperationQueue::~OperationQueue() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool OperationQueue::Submit(std::function<void()> op) {
  {
    MutexLock lock(mu_);
    if (stop_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(op));
  }
  wake_.notify_one();
  return true;
}

size_t OperationQueue::queued() const {
  MutexLock lock(mu_);
  return queue_.size();
}

void OperationQueue::Work() {
  for (;;) {
    std::function<void()> op;
    {
      MutexLock lock(mu_);
      while (!stop_ && queue_.empty()) wake_.wait(lock);
      if (queue_.empty()) return;  // stopping, and everything queued has run
      op = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      op();
    } catch (...) {
      // The operation answers its own request; an exception must not end the daemon.
    }
  }
}

}  // namespace ferry::api
