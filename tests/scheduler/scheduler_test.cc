// Scheduler with a fake clock and fake instances: batches form, flush on the delay, respect preferred sizes,
// deadlines and the queue bound; every request gets exactly its own rows back; settings change under load
// without failing a request. Fake instances compute y = 10 * x + 1 (expected values by hand) and record the
// batch sizes they ran; they can be held to keep every instance busy.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <limits>
#include <thread>

#include "common/tiny_graph.h"

namespace ferry {
namespace {

using std::chrono::microseconds;

class FakeClock : public Clock {
 public:
  TimePoint Now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  // Time moves only in Advance; waiters poll every millisecond of real time, so no wake-up is lost.
  void WaitUntil(MutexLock& lock, std::condition_variable_any& cv, TimePoint) override {
    cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  void Advance(std::chrono::microseconds d) {
    std::lock_guard<std::mutex> l(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  TimePoint now_ = TimePoint() + std::chrono::seconds(1000);
};

// x float[batch, 2] -> y float[batch, 2]; the graph only gives the signature (fake instances compute).
std::shared_ptr<const Model> SignatureModel(bool batch_dim = true) {
  testing::TinyGraphSpec spec;
  spec.x_shape = {batch_dim ? Dim{-1, "batch"} : Dim{3, ""}, Dim{2, ""}};
  spec.y_has_shape = true;
  return testing::TinyModel(spec);
}

struct Backend {
  std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  int running = 0;
  std::vector<int64_t> batch_rows;  // in the order batches ran
  std::vector<int> instance_of_batch;
  std::atomic<int> created{0};

  void Release() {
    std::lock_guard<std::mutex> l(mu);
    hold = false;
    cv.notify_all();
  }
  void WaitRunning(int n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return running >= n; });
  }
};

class FakeInstance : public Instance {
 public:
  FakeInstance(Backend* b, int index) : b_(b), index_(index) {}
  Result<std::vector<Tensor>> Run(Batch& batch, int) override {
    FERRY_ASSIGN_OR_RETURN(std::vector<Tensor> inputs, ConcatBatch(batch));
    {
      std::unique_lock<std::mutex> l(b_->mu);
      ++b_->running;
      b_->cv.notify_all();
      b_->cv.wait(l, [&] { return !b_->hold; });
      --b_->running;
      b_->batch_rows.push_back(inputs[0].shape()[0]);
      b_->instance_of_batch.push_back(index_);
    }
    if (inputs[0].as<float>()[0] == -999) return InvalidArgument("fake instance: poisoned batch");
    Tensor y = inputs[0].Clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.as<float>()[i] = 10 * y.as<float>()[i] + 1;
    return std::vector<Tensor>{y};
  }

 private:
  Backend* b_;
  int index_;
};

struct Outcome {
  Status status;
  std::vector<float> y;
  RequestTiming timing;
};

class SchedulerTest : public ::testing::Test {
 protected:
  std::shared_ptr<Scheduler> Make(SchedulerSettings settings, bool batch_dim = true) {
    SchedulerOptions o;
    o.name = "m/1";
    o.model = SignatureModel(batch_dim);
    o.settings = std::move(settings);
    o.clock = &clock_;
    Backend* b = &backend_;
    o.factory = [b](const InstanceSpec& spec) -> Result<std::unique_ptr<Instance>> {
      ++b->created;
      return std::unique_ptr<Instance>(new FakeInstance(b, spec.index));
    };
    auto s = Scheduler::Create(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return *s;
  }

  // Enqueues `rows` rows whose values are first, first+1, ...; the future resolves when it is answered.
  std::future<Outcome> Submit(Scheduler& s, int64_t rows, float first, std::optional<int64_t> timeout_us = {},
                              Status* enqueue_status = nullptr) {
    auto promise = std::make_shared<std::promise<Outcome>>();
    std::vector<float> x;
    for (int64_t i = 0; i < rows * 2; ++i) x.push_back(first + static_cast<float>(i));
    SchedulerRequest r;
    r.inputs.push_back(Tensor::FromVector<float>({rows, 2}, x));
    r.timeout_us = timeout_us;
    r.done = [promise](Result<std::vector<Tensor>> out, const RequestTiming& t) {
      Outcome o;
      o.timing = t;
      if (!out.ok()) {
        o.status = out.status();
      } else {
        const Tensor& y = (*out)[0];
        o.y.assign(y.as<float>(), y.as<float>() + y.numel());
      }
      promise->set_value(std::move(o));
    };
    Status st = s.Enqueue(std::move(r));
    if (enqueue_status) *enqueue_status = st;
    if (!st.ok()) {
      Outcome o;
      o.status = st;
      promise->set_value(o);
    }
    return promise->get_future();
  }

  static std::vector<float> Expected(int64_t rows, float first) {
    std::vector<float> y;
    for (int64_t i = 0; i < rows * 2; ++i) y.push_back(10 * (first + static_cast<float>(i)) + 1);
    return y;
  }

  static bool Ready(std::future<Outcome>& f, int ms = 0) {
    return f.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready;
  }

  FakeClock clock_;
  Backend backend_;
};

SchedulerSettings Batching(int64_t max, int64_t delay_us, std::vector<int64_t> preferred = {}) {
  SchedulerSettings s;
  s.batching = BatchingSettings{max, true, delay_us, std::move(preferred)};
  return s;
}

TEST_F(SchedulerTest, RequestsWaitForTheDelayThenRunAsOneBatch) {
  auto s = Make(Batching(8, 500));
  auto a = Submit(*s, 1, 0);
  auto b = Submit(*s, 2, 100);
  auto c = Submit(*s, 1, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Ready(a));  // the fake clock has not moved: still waiting for company
  clock_.Advance(microseconds(500));
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000) && Ready(c, 5000));
  EXPECT_EQ(backend_.batch_rows, std::vector<int64_t>{4});
  EXPECT_EQ(a.get().y, Expected(1, 0));
  Outcome ob = b.get();
  EXPECT_EQ(ob.y, Expected(2, 100));
  EXPECT_EQ(ob.timing.batch_rows, 4);
  EXPECT_EQ(c.get().y, Expected(1, 200));
}

TEST_F(SchedulerTest, AFullBatchRunsWithoutWaiting) {
  auto s = Make(Batching(4, 1000000));
  std::vector<std::future<Outcome>> f;
  for (int i = 0; i < 4; ++i) f.push_back(Submit(*s, 1, 10.0f * i));
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(Ready(f[i], 5000));
    EXPECT_EQ(f[i].get().y, Expected(1, 10.0f * i));
  }
  EXPECT_EQ(backend_.batch_rows, std::vector<int64_t>{4});
}

TEST_F(SchedulerTest, PreferredSizeRunsAtOnceAndTheRestWaits) {
  auto s = Make(Batching(8, 1000, {2}));
  backend_.hold = true;            // keep the instance busy until all three are queued
  auto first = Submit(*s, 2, -1);  // two rows: a preferred size, so it runs at once
  backend_.WaitRunning(1);
  auto a = Submit(*s, 1, 0);
  auto b = Submit(*s, 1, 1);
  auto c = Submit(*s, 1, 2);
  backend_.Release();
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Ready(c));  // one row is no preferred size: it waits for the delay
  clock_.Advance(microseconds(1000));
  ASSERT_TRUE(Ready(c, 5000));
  EXPECT_EQ(backend_.batch_rows, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(a.get().y, Expected(1, 0));
  EXPECT_EQ(b.get().y, Expected(1, 1));
  EXPECT_EQ(c.get().y, Expected(1, 2));
}

TEST_F(SchedulerTest, ExpiredRequestsAreAnsweredWithoutRunning) {
  auto s = Make(Batching(8, 0));
  backend_.hold = true;
  auto busy = Submit(*s, 1, 0);
  backend_.WaitRunning(1);
  auto late = Submit(*s, 1, 5, /*timeout_us=*/100);
  auto patient = Submit(*s, 1, 7);
  clock_.Advance(microseconds(200));
  backend_.Release();
  ASSERT_TRUE(Ready(late, 5000) && Ready(patient, 5000));
  EXPECT_EQ(late.get().status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(patient.get().y, Expected(1, 7));
  EXPECT_EQ(backend_.batch_rows, (std::vector<int64_t>{1, 1}));  // the expired request never ran
  EXPECT_EQ(s->stats().fail.count, 1u);
}

TEST_F(SchedulerTest, DefaultTimeoutAppliesAndZeroMeansNone) {
  SchedulerSettings settings = Batching(8, 0);
  settings.default_timeout_us = 50;
  auto s = Make(settings);
  backend_.hold = true;
  auto busy = Submit(*s, 1, 0);
  backend_.WaitRunning(1);
  auto defaulted = Submit(*s, 1, 1);
  auto unlimited = Submit(*s, 1, 2, /*timeout_us=*/0);
  clock_.Advance(microseconds(60));
  backend_.Release();
  ASSERT_TRUE(Ready(defaulted, 5000) && Ready(unlimited, 5000));
  EXPECT_EQ(defaulted.get().status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(unlimited.get().status.ok());
}

// Timeouts past what the clock can hold saturate to "no deadline" (they overflowed into the past and expired at
// once before).
TEST_F(SchedulerTest, HugeTimeoutsMeanNoDeadline) {
  SchedulerSettings settings = Batching(8, 0);
  settings.default_timeout_us = std::numeric_limits<int64_t>::max();
  auto s = Make(settings);
  backend_.hold = true;
  auto busy = Submit(*s, 1, 0);
  backend_.WaitRunning(1);
  auto defaulted = Submit(*s, 1, 1);
  auto huge = Submit(*s, 1, 2, /*timeout_us=*/9223372036854775);
  auto largest = Submit(*s, 1, 3, /*timeout_us=*/std::numeric_limits<int64_t>::max());
  clock_.Advance(std::chrono::hours(24 * 365));
  backend_.Release();
  ASSERT_TRUE(Ready(defaulted, 5000) && Ready(huge, 5000) && Ready(largest, 5000));
  EXPECT_EQ(defaulted.get().y, Expected(1, 1));
  EXPECT_EQ(huge.get().y, Expected(1, 2));
  EXPECT_EQ(largest.get().y, Expected(1, 3));
}

TEST_F(SchedulerTest, TheQueueIsBounded) {
  SchedulerSettings settings = Batching(8, 0);
  settings.max_queue_size = 2;
  auto s = Make(settings);
  backend_.hold = true;
  auto busy = Submit(*s, 1, 0);
  backend_.WaitRunning(1);
  auto a = Submit(*s, 1, 1);
  auto b = Submit(*s, 1, 2);
  Status st;
  auto c = Submit(*s, 1, 3, std::nullopt, &st);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s->queue_depth(), 2u);
  backend_.Release();
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000));
}

TEST_F(SchedulerTest, MoreRowsThanMaxBatchSizeAreRefused) {
  auto s = Make(Batching(4, 0));
  Status st;
  auto f = Submit(*s, 5, 0, std::nullopt, &st);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("max_batch_size of 4"), std::string::npos) << st.message();
}

TEST_F(SchedulerTest, WithoutBatchingEveryRequestRunsAlone) {
  SchedulerSettings settings;
  settings.batching.max_batch_size = 8;  // dynamic off
  auto s = Make(settings);
  backend_.hold = true;
  auto busy = Submit(*s, 1, 0);
  backend_.WaitRunning(1);
  auto a = Submit(*s, 2, 1);
  auto b = Submit(*s, 1, 2);
  backend_.Release();
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000));
  EXPECT_EQ(backend_.batch_rows, (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(a.get().y, Expected(2, 1));
}

TEST_F(SchedulerTest, ModelsWithoutABatchDimensionNeverBatch) {
  auto s = Make(Batching(8, 0), /*batch_dim=*/false);
  EXPECT_FALSE(s->batchable());
  backend_.hold = true;
  auto busy = Submit(*s, 3, 0);
  backend_.WaitRunning(1);
  auto a = Submit(*s, 3, 1);
  auto b = Submit(*s, 3, 2);
  backend_.Release();
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000));
  EXPECT_EQ(backend_.batch_rows, (std::vector<int64_t>{3, 3, 3}));
}

TEST_F(SchedulerTest, ABatchGoesToTheFirstFreeInstance) {
  SchedulerSettings settings;  // batching off: two requests are two batches
  settings.batching.max_batch_size = 8;
  settings.instances = {InstanceGroup{"cpu", 2, {}}};
  auto s = Make(settings);
  EXPECT_EQ(backend_.created.load(), 2);
  backend_.hold = true;
  auto a = Submit(*s, 1, 0);
  auto b = Submit(*s, 1, 1);
  backend_.WaitRunning(2);  // both instances busy at once
  backend_.Release();
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000));
  std::vector<int> used = backend_.instance_of_batch;
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, (std::vector<int>{0, 1}));
}

TEST_F(SchedulerTest, ABatchErrorReachesEveryRequestOfTheBatch) {
  auto s = Make(Batching(8, 1000));
  auto a = Submit(*s, 1, -999);  // the first row of the batch poisons it
  auto b = Submit(*s, 1, 1);
  auto c = Submit(*s, 2, 2);
  clock_.Advance(microseconds(1000));
  ASSERT_TRUE(Ready(a, 5000) && Ready(b, 5000) && Ready(c, 5000));
  EXPECT_EQ(backend_.batch_rows, std::vector<int64_t>{4});
  for (auto* f : {&a, &b, &c}) {
    Outcome o = f->get();
    EXPECT_EQ(o.status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(o.status.message(), "fake instance: poisoned batch");
  }
}

TEST_F(SchedulerTest, InvalidSettingsAreRefused) {
  SchedulerSettings s = Batching(4, 0, {8});
  EXPECT_EQ(ValidateSchedulerSettings(s).code(), StatusCode::kInvalidArgument);
  s = Batching(4, 0);
  s.instances = {InstanceGroup{"gpu", 1, {0}}};
  EXPECT_EQ(ValidateSchedulerSettings(s).code(), StatusCode::kUnimplemented);
  s.instances = {InstanceGroup{"cpu", 0, {}}};
  EXPECT_EQ(ValidateSchedulerSettings(s).code(), StatusCode::kInvalidArgument);
}

// Real time: clients submit continuously while batching and instance counts change; every request succeeds
// with its own rows.
TEST(SchedulerLoadTest, SettingsChangeUnderLoadWithoutFailures) {
  Backend backend;
  SchedulerOptions o;
  o.name = "m/1";
  o.model = SignatureModel();
  o.settings = Batching(8, 200);
  o.factory = [&backend](const InstanceSpec& spec) -> Result<std::unique_ptr<Instance>> {
    return std::unique_ptr<Instance>(new FakeInstance(&backend, spec.index));
  };
  auto created = Scheduler::Create(std::move(o));
  ASSERT_TRUE(created.ok());
  std::shared_ptr<Scheduler> s = *created;
  std::atomic<bool> stop{false};
  std::atomic<int> done{0}, failed{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop; ++i) {
        const int64_t rows = 1 + (i + c) % 3;
        const float first = static_cast<float>(c * 1000 + i % 500);
        auto promise = std::make_shared<std::promise<Outcome>>();
        auto future = promise->get_future();
        std::vector<float> x;
        for (int64_t k = 0; k < rows * 2; ++k) x.push_back(first + static_cast<float>(k));
        SchedulerRequest r;
        r.inputs.push_back(Tensor::FromVector<float>({rows, 2}, x));
        r.done = [promise](Result<std::vector<Tensor>> out, const RequestTiming&) {
          Outcome oc;
          if (!out.ok()) {
            oc.status = out.status();
          } else {
            oc.y.assign((*out)[0].as<float>(), (*out)[0].as<float>() + (*out)[0].numel());
          }
          promise->set_value(std::move(oc));
        };
        Status st = s->Enqueue(std::move(r));
        if (!st.ok()) {
          ++failed;
          continue;
        }
        Outcome oc = future.get();
        if (!oc.status.ok()) {
          ++failed;
        } else {
          std::vector<float> want;
          for (int64_t k = 0; k < rows * 2; ++k) want.push_back(10 * (first + static_cast<float>(k)) + 1);
          if (oc.y != want) ++wrong;
        }
        ++done;
      }
    });
  }
  const SchedulerSettings variants[] = {Batching(8, 0), Batching(4, 500, {2, 4}), Batching(8, 100), Batching(8, 0)};
  for (int round = 0; round < 8; ++round) {
    SchedulerSettings next = variants[round % 4];
    next.instances = {InstanceGroup{"cpu", 1 + round % 3, {}}};
    ASSERT_TRUE(s->Update(next).ok());
    EXPECT_EQ(s->instance_count(), 1 + round % 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_GT(done.load(), 50);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  bool batched = false;
  for (int64_t r : backend.batch_rows) batched |= r > 3;  // more rows than any one request: a real batch
  EXPECT_TRUE(batched);
}

}  // namespace
}  // namespace ferry
