// Clock: the batcher's view of time, behind a seam so that unit tests decide when "later" is.
//
// The scheduler waits on a condition variable until something happens or a time arrives (the oldest request's
// batching delay, the earliest deadline). The real clock waits with a timeout; a fake clock (tests/scheduler)
// keeps its own time, returns from waits only when notified, and wakes every waiter when a test advances it.
// Thread safety: implementations must be thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>

#include "common/thread_annotations.h"

namespace ferry {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr TimePoint kNever = TimePoint::max();

  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Blocks on `cv` (which `lock` guards) until notified or, for the real clock, until `until` passes; returns
  // with the lock held again. Spurious returns are allowed: callers re-check their state.
  virtual void WaitUntil(MutexLock& lock, std::condition_variable_any& cv, TimePoint until) = 0;
};

// std::chrono::steady_clock. Shared, stateless.
Clock* RealClock();

}  // namespace ferry
