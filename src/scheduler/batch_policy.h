// BatchPolicy: the dynamic batcher's decision, as a pure function of the queue, the time and the settings, so
// every rule is tested as data (tests/scheduler/batch_policy_test.cc) and the threaded scheduler only carries
// out what it says.
//
// Rules, in order (Triton's dynamic batcher, simplified):
//  1. Requests whose deadline has passed are expired (answered 504 without running).
//  2. Without dynamic batching, the oldest request runs alone, at once.
//  3. Otherwise the batch is the oldest request plus the later ones it can be concatenated with (same input
//     types and same sizes beyond the batch dimension), in arrival order, while their rows fit max_batch_size.
//  4. It runs at once when it is full (max_batch_size rows), or when a prefix of it sums to a preferred batch
//     size (the largest such prefix runs), or when the oldest request has waited max_queue_delay_us.
//  5. Otherwise the caller waits until the oldest request's delay ends or the earliest deadline, whichever
//     comes first (or a new request arrives).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "scheduler/clock.h"

namespace ferry {

struct BatchingSettings {
  int64_t max_batch_size = 0;                  // rows; 0: the model has no batch dimension (requests never combine)
  bool dynamic = false;                        // combine requests into batches
  int64_t max_queue_delay_us = 0;              // microseconds the oldest request may wait for company; 0: never waits
  std::vector<int64_t> preferred_batch_sizes;  // ascending, each in [1, max_batch_size]

  bool operator==(const BatchingSettings&) const = default;
};

// What the policy needs to know of a queued request.
struct QueuedItem {
  int64_t rows = 1;
  std::string shape_key;  // requests combine only with equal keys
  Clock::TimePoint enqueued;
  Clock::TimePoint deadline = Clock::kNever;
};

struct BatchDecision {
  std::vector<size_t> expired;            // queue indices, ascending
  std::vector<size_t> run;                // queue indices to run as one batch, ascending (arrival order); empty: wait
  Clock::TimePoint wake = Clock::kNever;  // when `run` is empty: when to decide again (kNever: on new requests)
};

BatchDecision DecideBatch(const std::deque<QueuedItem>& queue, Clock::TimePoint now, const BatchingSettings& settings);

}  // namespace ferry
