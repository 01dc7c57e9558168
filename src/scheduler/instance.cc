#include "scheduler/instance.h"

#include <cstring>

#include "backends/device_registry.h"

namespace ferry {

namespace {

size_t RowBytes(const Tensor& t) {
  const int64_t rows = t.shape().empty() ? 0 : t.shape()[0];
  return rows > 0 ? t.nbytes() / static_cast<size_t>(rows) : 0;
}

class SessionInstance : public Instance {
 public:
  SessionInstance(std::shared_ptr<const Model> model, const Device& device, int max_threads)
      : device_(device), session_(std::move(model), SessionOptions{max_threads, false, {&device}}) {}

  Status Warmup(int64_t batch) {
    const Model& model = session_.model();
    std::vector<Shape> shapes = model.ShapesForBatch(batch);
    std::vector<TensorView> views;
    for (size_t i = 0; i < shapes.size(); ++i) views.push_back(TensorView{model.inputs()[i].dtype, shapes[i], nullptr});
    for (bool keyed : model.value_keyed_inputs()) {
      if (keyed) return Status::Ok();  // plans depend on input values; nothing to plan ahead
    }
    FERRY_RETURN_IF_ERROR(session_.Reserve(views));
    staging_.resize(views.size());
    for (size_t i = 0; i < views.size(); ++i) FERRY_RETURN_IF_ERROR(Stage(i, views[i].nbytes()));
    return Status::Ok();
  }

  void set_planned() {
    for (const Device* d : DeviceRegistry::Global().All()) {
      size_t bytes = session_.arena_bytes(d->location());
      if (d == &device_)
        for (const auto& s : staging_) bytes += s ? s->size() : 0;
      if (bytes) planned_[std::string(d->id())] += bytes;
    }
  }
  std::map<std::string, size_t> planned_bytes() const override { return planned_; }

  Result<std::vector<Tensor>> Run(Batch& batch, int threads) override {
    session_.SetThreads(threads);
    if (batch.requests.size() == 1) return session_.Run(*batch.requests[0]);
    // Gather each input's rows, request after request, into this instance's staging memory.
    const std::vector<Tensor>& first = *batch.requests[0];
    staging_.resize(first.size());
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < first.size(); ++i) {
      Shape shape = first[i].shape();
      shape[0] = batch.rows;
      const size_t row_bytes = RowBytes(first[i]);
      FERRY_RETURN_IF_ERROR(Stage(i, row_bytes * static_cast<size_t>(batch.rows)));
      char* dst = static_cast<char*>(staging_[i]->data());
      for (std::vector<Tensor>* r : batch.requests) {
        const Tensor& part = (*r)[i];
        if (part.nbytes()) std::memcpy(dst, part.data(), part.nbytes());
        dst += part.nbytes();
      }
      std::shared_ptr<const void> owner(staging_[i], staging_[i]->data());
      FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::Alias(owner, staging_[i]->data(), first[i].dtype(), shape));
      inputs.push_back(std::move(t));
    }
    for (std::vector<Tensor>* r : batch.requests) r->clear();  // their memory may go back now
    return session_.Run(inputs);
  }

 private:
  // Input i's staging holds at least `bytes`.
  Status Stage(size_t i, size_t bytes) {
    if (staging_[i] && staging_[i]->size() >= bytes) return Status::Ok();
    staging_[i].reset();
    FERRY_ASSIGN_OR_RETURN(Buffer b, device_.host_buffer_type().Allocate(bytes, BufferUsage::kCompute));
    staging_[i] = std::make_shared<Buffer>(std::move(b));
    return Status::Ok();
  }

  const Device& device_;
  Session session_;
  std::vector<std::shared_ptr<Buffer>> staging_;  // per input
  std::map<std::string, size_t> planned_;         // set once, before the instance is shared
};

}  // namespace

InstanceFactory SessionInstanceFactory(std::shared_ptr<const Model> model) {
  return [model](const InstanceSpec& spec) -> Result<std::unique_ptr<Instance>> {
    const Device& device = spec.device ? *spec.device : CpuDevice();
    auto instance = std::make_unique<SessionInstance>(model, device, std::max(1, spec.max_threads));
    if (spec.warmup_batch > 0) {
      Status s = instance->Warmup(spec.warmup_batch);
      if (!s.ok()) return s.WithContext(fmt::format("planning batch {} on {}", spec.warmup_batch, device.id()));
    }
    instance->set_planned();
    return std::unique_ptr<Instance>(std::move(instance));
  };
}

Result<std::vector<Tensor>> ConcatBatch(Batch& batch) {
  if (batch.requests.size() == 1) return std::move(*batch.requests[0]);
  std::vector<Tensor> out;
  const std::vector<Tensor>& first = *batch.requests[0];
  for (size_t i = 0; i < first.size(); ++i) {
    Shape shape = first[i].shape();
    shape[0] = batch.rows;
    FERRY_ASSIGN_OR_RETURN(Tensor t, Tensor::AllocateUninitialized(first[i].dtype(), shape));
    char* dst = static_cast<char*>(t.data());
    for (std::vector<Tensor>* r : batch.requests) {
      const Tensor& part = (*r)[i];
      if (part.nbytes()) std::memcpy(dst, part.data(), part.nbytes());
      dst += part.nbytes();
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace ferry
