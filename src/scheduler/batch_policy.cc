#include "scheduler/batch_policy.h"

#include <algorithm>

namespace ferry {

BatchDecision DecideBatch(const std::deque<QueuedItem>& queue, Clock::TimePoint now, const BatchingSettings& s) {
  BatchDecision d;
  std::vector<size_t> live;
  for (size_t i = 0; i < queue.size(); ++i) {
    if (queue[i].deadline <= now) {
      d.expired.push_back(i);
    } else {
      live.push_back(i);
    }
  }
  if (live.empty()) return d;
  const QueuedItem& head = queue[live[0]];
  if (!s.dynamic || s.max_batch_size <= 0) {
    d.run.push_back(live[0]);
    return d;
  }
  // The candidates: the head plus compatible later requests, in order, while they fit.
  std::vector<size_t> batch{live[0]};
  int64_t rows = head.rows;
  for (size_t k = 1; k < live.size() && rows < s.max_batch_size; ++k) {
    const QueuedItem& q = queue[live[k]];
    if (q.shape_key != head.shape_key || rows + q.rows > s.max_batch_size) continue;
    batch.push_back(live[k]);
    rows += q.rows;
  }
  if (rows >= s.max_batch_size) {
    d.run = std::move(batch);
    return d;
  }
  // The largest prefix whose rows are a preferred size.
  if (!s.preferred_batch_sizes.empty()) {
    int64_t sum = 0;
    size_t best = 0;
    for (size_t k = 0; k < batch.size(); ++k) {
      sum += queue[batch[k]].rows;
      if (std::binary_search(s.preferred_batch_sizes.begin(), s.preferred_batch_sizes.end(), sum)) best = k + 1;
    }
    if (best > 0) {
      batch.resize(best);
      d.run = std::move(batch);
      return d;
    }
  }
  const Clock::TimePoint flush = head.enqueued + std::chrono::microseconds(s.max_queue_delay_us);
  if (now >= flush) {
    d.run = std::move(batch);
    return d;
  }
  d.wake = flush;
  for (size_t i : live) d.wake = std::min(d.wake, queue[i].deadline);
  return d;
}

}  // namespace ferry
