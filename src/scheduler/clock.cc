#include "scheduler/clock.h"

namespace ferry {

namespace {

class SteadyClock : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, TimePoint until) override {
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
