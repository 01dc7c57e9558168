#include "scheduler/version_worker.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace ferry {

// Shared between the worker object and its thread, so the thread can outlive the object when the object is
// destroyed on the thread itself.
struct VersionWorker::State {
  std::shared_ptr<const Model> model;
  VersionWorkerOptions options;
  std::mutex mu;
  std::condition_variable wake;
  std::deque<Task> queue;  // guarded by mu
  bool stop = false;       // guarded by mu
  std::thread thread;

  void Loop() {
    Session session(model, SessionOptions{options.num_threads, false});
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu);
        wake.wait(lock, [&] { return stop || !queue.empty(); });
        if (stop) return;
        task = std::move(queue.front());
        queue.pop_front();
      }
      task(session);
      // Destroying the task may drop the version's last handle and with it this worker; the State (and this
      // frame) stays alive through the thread's own reference.
      task = nullptr;
    }
  }
};

Result<std::shared_ptr<VersionWorker>> VersionWorker::Start(std::shared_ptr<const Model> model,
                                                            const VersionWorkerOptions& options) {
  if (!model) return InvalidArgument("VersionWorker needs a model");
  if (options.num_threads < 1) return InvalidArgument("num_threads must be >= 1, got {}", options.num_threads);
  auto state = std::make_shared<State>();
  state->model = std::move(model);
  state->options = options;
  state->thread = std::thread([state] {
    std::string name = state->options.name.substr(0, 15);  // the kernel's limit for thread names
    if (!name.empty()) pthread_setname_np(pthread_self(), name.c_str());
    state->Loop();
  });
  return std::shared_ptr<VersionWorker>(new VersionWorker(std::move(state)));
}

VersionWorker::VersionWorker(std::shared_ptr<State> state) : state_(std::move(state)) {}

VersionWorker::~VersionWorker() {
  std::deque<Task> dropped;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stop = true;
    dropped.swap(state_->queue);
  }
  state_->wake.notify_all();
  if (state_->thread.get_id() == std::this_thread::get_id()) {
    state_->thread.detach();  // the thread holds its State and returns at the next check
  } else if (state_->thread.joinable()) {
    state_->thread.join();
  }
  // `dropped` is destroyed here, outside the lock (tasks may hold handles whose release takes other locks).
}

Status VersionWorker::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stop) return Status(StatusCode::kUnavailable, "the version is unloading");
    if (state_->queue.size() >= state_->options.max_queue) {
      return ResourceExhausted("the queue of {} is full ({} requests waiting)", state_->options.name,
                               state_->queue.size());
    }
    state_->queue.push_back(std::move(task));
  }
  state_->wake.notify_one();
  return Status::Ok();
}

size_t VersionWorker::queue_depth() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->queue.size();
}

}  // namespace ferry
