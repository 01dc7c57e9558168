#include "scheduler/instance.h"

namespace ferry {

namespace {

class CpuInstance : public Instance {
 public:
  CpuInstance(std::shared_ptr<const Model> model, int max_threads)
      : session_(std::move(model), SessionOptions{max_threads, false}) {}

  Status Warmup(int64_t batch) {
    const Model& model = session_.model();
    std::vector<Shape> shapes = model.ShapesForBatch(batch);
    std::vector<TensorView> views;
    for (size_t i = 0; i < shapes.size(); ++i) views.push_back(TensorView{model.inputs()[i].dtype, shapes[i], nullptr});
    for (bool keyed : model.value_keyed_inputs()) {
      if (keyed) return Status::Ok();  // plans depend on input values; nothing to plan ahead
    }
    return session_.Reserve(views);
  }

  size_t planned_bytes() const override { return planned_; }
  void set_planned() { planned_ = session_.arena_bytes(); }

  Result<std::vector<Tensor>> Run(const std::vector<Tensor>& inputs, int threads) override {
    session_.SetThreads(threads);
    return session_.Run(inputs);
  }

 private:
  Session session_;
  size_t planned_ = 0;  // set once, before the instance is shared
};

}  // namespace

InstanceFactory CpuInstanceFactory(std::shared_ptr<const Model> model) {
  return [model](const InstanceSpec& spec) -> Result<std::unique_ptr<Instance>> {
    if (spec.kind != "cpu") return Unimplemented("instance kind \"{}\" is not available in this build", spec.kind);
    auto instance = std::make_unique<CpuInstance>(model, std::max(1, spec.max_threads));
    if (spec.warmup_batch > 0) {
      Status s = instance->Warmup(spec.warmup_batch);
      if (!s.ok()) return s.WithContext(fmt::format("planning batch {}", spec.warmup_batch));
    }
    instance->set_planned();
    return std::unique_ptr<Instance>(std::move(instance));
  };
}

}  // namespace ferry
