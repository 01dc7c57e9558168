// VersionWorker: the thread that runs inference for one loaded model version.
//
// HTTP threads decode a request and Submit a task; the worker runs tasks one at a time, in order, with its own
// Session (plans and arena), and the task itself completes the reply. One worker per loaded version for now;
// the batching issue replaces this with a scheduler (a batcher feeding several instances) behind the same
// Submit-a-task shape.
//
// Ownership: the worker is owned by its ModelVersion (shared by the manager's record and every VersionHandle).
// Tasks capture the VersionHandle of their request, so a version cannot unload while a task of it is queued or
// running; the worker is destroyed after the last task's handle drops, which may happen on the worker's own
// thread (the destructor then detaches instead of joining).
//
// Thread safety: Submit may be called from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "graph/session.h"

namespace ferry {

struct VersionWorkerOptions {
  int num_threads = 1;       // compute threads of this worker (OpenMP + BLAS), >= 1
  size_t max_queue = 1024;   // tasks waiting beyond this are refused with ResourceExhausted
  std::string name;          // for the thread name and messages ("digits/1")
};

class VersionWorker {
 public:
  // A unit of work; runs on the worker thread with the worker's Session. Must not throw.
  using Task = std::function<void(Session&)>;

  // Starts the thread. InvalidArgument for a null model or num_threads < 1.
  static Result<std::shared_ptr<VersionWorker>> Start(std::shared_ptr<const Model> model,
                                                      const VersionWorkerOptions& options);
  // Stops the thread after the task it is running (if any); tasks still queued are dropped unrun (their
  // captured state is destroyed, which is how a request learns nothing more will happen).
  ~VersionWorker();
  VersionWorker(const VersionWorker&) = delete;
  VersionWorker& operator=(const VersionWorker&) = delete;

  // Queues `task`. ResourceExhausted when max_queue tasks are waiting (the task is not run).
  Status Submit(Task task);

  // Tasks waiting (not counting the one running).
  size_t queue_depth() const;

 private:
  struct State;
  explicit VersionWorker(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace ferry
