// TopK: the k largest (or smallest) elements along `axis` and their int64 indices, sorted, with ties broken
// by the lower index first (the spec's rule). K is an attribute before opset 10 and an input after; it fixes
// the output shape, so it must be known in Prepare.
//
// Each slice is heap-selected into k items of per-thread scratch. NaN orders above every number (numpy's sort
// order, reversed for largest), which keeps the comparison a strict weak order.
#include <algorithm>
#include <cmath>
#include <memory>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce_util.h"

namespace ferry::cpu {
namespace {

template <typename T>
struct Item {
  T v;
  int64_t i;
};

// a goes before b in a largest-first order.
template <typename T>
bool Greater(const Item<T>& a, const Item<T>& b) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool an = std::isnan(a.v), bn = std::isnan(b.v);
    if (an || bn) return an && bn ? a.i < b.i : an;
  }
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}

// a goes before b in a smallest-first order (NaN last).
template <typename T>
bool Less(const Item<T>& a, const Item<T>& b) {
  if constexpr (std::is_floating_point_v<T>) {
    const bool an = std::isnan(a.v), bn = std::isnan(b.v);
    if (an || bn) return an && bn ? a.i < b.i : bn;
  }
  return a.v < b.v || (a.v == b.v && a.i < b.i);
}

// Writes the k best elements of src[i * stride], i < n, best first, to items[0, k) through a max-heap (by
// `before`) of the best k seen so far whose top is the worst of them, so most elements cost one comparison.
// A later element never displaces an equal one (its index is higher), which keeps ties lowest-index-first.
template <bool kLargest, typename T>
void Select(const T* src, int64_t n, int64_t stride, int64_t k, Item<T>* items) {
  auto before = [](const Item<T>& a, const Item<T>& b) { return kLargest ? Greater(a, b) : Less(a, b); };
  for (int64_t i = 0; i < k; ++i) items[i] = {src[i * stride], i};
  std::make_heap(items, items + k, before);
  T worst = items[0].v;
  for (int64_t i = k; i < n; ++i) {
    const T v = src[i * stride];
    // Cheap value test first: only a strictly better value (or a NaN, which orders as the largest) can enter.
    const bool maybe = kLargest ? (v > worst || v != v) : (v < worst || worst != worst);
    if (!maybe || !before(Item<T>{v, i}, items[0])) continue;
    std::pop_heap(items, items + k, before);
    items[k - 1] = {v, i};
    std::push_heap(items, items + k, before);
    worst = items[0].v;
  }
  std::sort_heap(items, items + k, before);
}

template <typename T>
class TopKKernel final : public Kernel {
 public:
  TopKKernel(int64_t axis, int64_t k_attr, bool k_from_input, bool largest)
      : axis_attr_(axis), k_attr_(k_attr), k_from_input_(k_from_input), largest_(largest) {}

  Status Prepare(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    const int64_t rank = x.rank();
    if (rank == 0) return InvalidArgument("input 0 must have rank >= 1");
    FERRY_ASSIGN_OR_RETURN(int64_t axis, reduce::NormalizeAxis(axis_attr_, rank, "axis"));
    int64_t k = k_attr_;
    if (k_from_input_) {
      if (!ctx.has_input(1)) return InvalidArgument("input 'K' is required");
      FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> kv, reduce::ReadKnownInts(ctx, 1, "K"));
      if (kv.size() != 1) return InvalidArgument("input 'K' must hold one value, got {}", kv.size());
      k = kv[0];
    }
    outer_ = reduce::ProductOf(x.shape, 0, axis);
    n_ = x.shape[axis];
    inner_ = reduce::ProductOf(x.shape, axis + 1, rank);
    if (k < 0 || k > n_) return InvalidArgument("K = {} is out of range for an axis of size {}", k, n_);
    k_ = k;
    Shape out = x.shape;
    out[axis] = k;
    ctx.set_output(0, x.dtype, out);
    if (ctx.num_outputs() > 1) ctx.set_output(1, DataType::kInt64, out);
    // One scratch slice per thread that has a slice to sort.
    threads_ = static_cast<int>(std::clamp<int64_t>(outer_ * inner_, 1, std::max(1, ctx.num_threads())));
    // Slots start on separate cache lines: threads rewrite their heaps constantly.
    slot_items_ = (k_ * static_cast<int64_t>(sizeof(Item<T>)) + 63) / 64 * 64 / static_cast<int64_t>(sizeof(Item<T>));
    ctx.request_scratch(static_cast<size_t>(threads_ * slot_items_) * sizeof(Item<T>));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const T* x = ctx.input(0).as<const T>();
    T* values = ctx.output(0).as<T>();
    int64_t* indices = ctx.num_outputs() > 1 ? ctx.output(1).as<int64_t>() : nullptr;
    const int64_t slices = outer_ * inner_;
    if (k_ == 0 || slices == 0) return Status::Ok();
    Item<T>* scratch = static_cast<Item<T>*>(ctx.scratch());
    const int threads = std::min(threads_, ctx.num_threads());
    // One chunk per thread, so each chunk owns one scratch slot.
    const int64_t chunks = std::min<int64_t>(std::max(threads, 1), slices);
    const int64_t n = n_, k = k_, inner = inner_;
    const int64_t cost = n * 4 + k * 8;
    ParallelFor(chunks, threads, slices * cost / chunks + 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        Item<T>* items = scratch + c * slot_items_;
        for (int64_t s = slices * c / chunks, e = slices * (c + 1) / chunks; s < e; ++s) {
          const int64_t o = s / inner, j = s % inner;
          const T* src = x + o * n * inner + j;
          if (largest_) {
            Select<true>(src, n, inner, k, items);
          } else {
            Select<false>(src, n, inner, k, items);
          }
          T* vo = values + o * k * inner + j;
          for (int64_t i = 0; i < k; ++i) vo[i * inner] = items[i].v;
          if (indices) {
            int64_t* io = indices + o * k * inner + j;
            for (int64_t i = 0; i < k; ++i) io[i * inner] = items[i].i;
          }
        }
      }
    });
    return Status::Ok();
  }

 private:
  const int64_t axis_attr_;
  const int64_t k_attr_;
  const bool k_from_input_;
  const bool largest_;
  int64_t outer_ = 0, n_ = 0, inner_ = 0, k_ = 0;
  int threads_ = 1;
  int64_t slot_items_ = 0;  // scratch items per thread
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateTopK(const KernelDef& def) {
  const int64_t axis = def.attrs.Int("axis", -1);
  const bool k_from_input = def.opset >= 10;
  if (!k_from_input && !def.attrs.Has("k")) return InvalidArgument("attribute 'k' is required before opset 10");
  const int64_t k_attr = def.attrs.Int("k", 0);
  const bool largest = def.opset < 11 || def.attrs.Int("largest", 1) != 0;
  if (def.num_outputs > 2) return InvalidArgument("TopK has 2 outputs, the node declares {}", def.num_outputs);
  // sorted = 0 leaves the order unspecified; the sorted order is one valid answer.
  auto make = [=](DataType t) -> Result<std::unique_ptr<Kernel>> {
    std::unique_ptr<Kernel> k;
    reduce::DispatchNumeric(
        t, [&]<typename T>() { k = std::make_unique<TopKKernel<T>>(axis, k_attr, k_from_input, largest); });
    if (!k) {
      return Unimplemented("input 0 has type {}; supported: float, double and the 8- to 64-bit integer types",
                           DataTypeName(t));
    }
    return k;
  };
  const DataType t = reduce::DefInputType(def, 0);
  if (t != DataType::kUndefined) FERRY_RETURN_IF_ERROR(make(t).status());
  return std::unique_ptr<Kernel>(new reduce::TypedByInput(make));
}

}  // namespace ferry::cpu
