#include "scheduler/clock.h"

namespace ferry {

namespace {

class SteadyClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(MutexLock& lock, std::condition_variable_any& cv, TimePoint until) override {
    if (until == kNever) {
      cv.wait(lock);
    } else {
      cv.wait_until(lock, until);
    }
  }
};

}  // namespace

Clock* RealClock() {
  static SteadyClock clock;
  return &clock;
}

}  // namespace ferry
