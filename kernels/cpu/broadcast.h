// Numpy multidirectional broadcasting for the element-wise kernels.
//
// A MultiBroadcastPlan describes how up to three inputs map onto the output. Adjacent dims are merged where
// every input agrees on whether it repeats along them, so that the common shapes reduce to one or two dims:
//   [B,C,H,W] + [B,C,H,W]  -> one run of B*C*H*W, both inputs stride 1
//   [B,C,H,W] + [1,C,1,1]  -> dims [B, C, H*W]; rows of H*W where the second input is one repeated element
//   [B,S,D]   + [D]        -> dims [B*S, D]; rows of D where the second input restarts at 0 each row
// ForEachBroadcastRun then walks the output in runs along the innermost merged dim, in which each input has
// stride 0 or 1, so the caller's inner loop is a plain vectorizable loop. Plans are plain data, built once in
// Prepare; they are not synchronized and are read-only during Compute.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/status.h"
#include "common/tensor.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernel.h"

namespace ferry::cpu {

inline constexpr int kMaxBroadcastInputs = 3;

// The numpy broadcast of `shapes` (right-aligned; each dim equal to the output's or 1). InvalidArgument names
// the first incompatible pair.
Result<Shape> MultiBroadcastShape(const std::vector<Shape>& shapes);

struct MultiBroadcastPlan {
  int num_inputs = 0;
  int64_t total = 0;  // output elements
  int64_t row = 1;    // elements per run along the innermost merged dim
  // Per input: 1 when it advances along the row, 0 when it repeats one element.
  std::array<int64_t, kMaxBroadcastInputs> row_stride{};
  // Merged dims above the row, outermost first, with each input's stride (0 where it repeats).
  std::vector<int64_t> outer_dims;
  std::vector<std::array<int64_t, kMaxBroadcastInputs>> outer_strides;
};

// REQUIRES: 1 <= inputs.size() <= kMaxBroadcastInputs. Each input must broadcast to `out` (it may be `out`
// itself); InvalidArgument otherwise.
Result<MultiBroadcastPlan> MakeMultiBroadcastPlan(const std::vector<Shape>& inputs, const Shape& out);

// How a two-input op's inputs broadcast. From opset 7 on it is numpy's rule. Before, binary ops broadcast
// only with attribute broadcast=1, B onto A (unidirectional), B's dims aligned at A's dim `axis` (default:
// trailing); Plan() turns that into numpy terms by padding B with trailing 1s.
struct BinaryBroadcastSpec {
  static BinaryBroadcastSpec FromDef(const KernelDef& def);

  // Output shape and plan for inputs of shapes a and b; InvalidArgument when they do not broadcast.
  Status Plan(const Shape& a, const Shape& b, Shape* out, MultiBroadcastPlan* plan) const;

  bool legacy = false;
  bool legacy_broadcast = false;
  bool has_axis = false;
  int64_t axis = 0;
};

// Calls fn(out_offset, in_offsets, len) over the output in runs of at most plan.row elements: output
// elements [out_offset, out_offset + len) read input k from in_offsets[k] with stride plan.row_stride[k].
// Runs are spread over up to `threads` threads (fn must be safe to call concurrently on disjoint runs);
// cost_per_element is a rough relative cost (1 for an add) that decides whether threading pays.
template <typename F>
void ForEachBroadcastRun(const MultiBroadcastPlan& plan, int threads, int64_t cost_per_element, F&& fn) {
  if (plan.total <= 0) return;
  // Blocks keep thread boundaries cache-line aligned for every element size.
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (plan.total + kBlock - 1) / kBlock;
  const int n = plan.num_inputs;
  ParallelFor(blocks, threads, kBlock * cost_per_element, [&](int64_t b0, int64_t b1) {
    const int64_t begin = b0 * kBlock;
    const int64_t end = std::min(b1 * kBlock, plan.total);
    const size_t nd = plan.outer_dims.size();
    // The odometer over the outer dims; ranks are small, so a small heap vector per chunk is fine.
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, kMaxBroadcastInputs> base{};
    int64_t r = begin / plan.row;
    int64_t col = begin % plan.row;
    for (size_t d = nd; d-- > 0;) {
      idx[d] = r % plan.outer_dims[d];
      r /= plan.outer_dims[d];
      for (int k = 0; k < n; ++k) base[k] += idx[d] * plan.outer_strides[d][k];
    }
    int64_t pos = begin;
    while (pos < end) {
      const int64_t len = std::min(plan.row - col, end - pos);
      std::array<int64_t, kMaxBroadcastInputs> off{};
      for (int k = 0; k < n; ++k) off[k] = base[k] + col * plan.row_stride[k];
      fn(pos, off.data(), len);
      pos += len;
      col = 0;
      for (size_t d = nd; d-- > 0;) {
        ++idx[d];
        for (int k = 0; k < n; ++k) base[k] += plan.outer_strides[d][k];
        if (idx[d] < plan.outer_dims[d]) break;
        for (int k = 0; k < n; ++k) base[k] -= plan.outer_strides[d][k] * plan.outer_dims[d];
        idx[d] = 0;
      }
    }
  });
}

// y[i] = f(x[i]) over n elements, spread over up to `threads` threads when large. `y` may alias `x`.
template <typename TI, typename TO, typename F>
void MapUnary(const TI* x, TO* y, int64_t n, int threads, int64_t cost_per_element, F f) {
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  // flatten: inline f (and what it calls) into the loop even when GCC's -O2 heuristics would not; a call in
  // the loop keeps it scalar.
  auto chunk = [&](int64_t b0, int64_t b1) __attribute__((flatten)) {
    const int64_t begin = b0 * kBlock;
    const int64_t end = std::min(b1 * kBlock, n);
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) y[i] = f(x[i]);
  };
  ParallelFor(blocks, threads, kBlock * cost_per_element, chunk);
}

// out[i] = op(a[i], b[i]) under numpy broadcasting (plan made for {a_shape, b_shape}). `out` may alias `a`
// or `b` when that input has the output's shape. The three stride cases get their own loops so each one
// vectorizes.
template <typename TA, typename TB, typename TO, typename Op>
void BroadcastBinary(const MultiBroadcastPlan& plan, const TA* a, const TB* b, TO* out, int threads,
                     int64_t cost_per_element, Op op) {
  // flatten: as in MapUnary.
  auto run = [&](int64_t o, const int64_t* in, int64_t len) __attribute__((flatten)) {
    const TA* pa = a + in[0];
    const TB* pb = b + in[1];
    TO* po = out + o;
    if (plan.row_stride[0] == 1 && plan.row_stride[1] == 1) {
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) po[i] = op(pa[i], pb[i]);
    } else if (plan.row_stride[1] == 1) {
      const TA va = pa[0];
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) po[i] = op(va, pb[i]);
    } else if (plan.row_stride[0] == 1) {
      const TB vb = pb[0];
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) po[i] = op(pa[i], vb);
    } else {
      const TO v = op(pa[0], pb[0]);
      for (int64_t i = 0; i < len; ++i) po[i] = v;
    }
  };
  ForEachBroadcastRun(plan, threads, cost_per_element, run);
}

}  // namespace ferry::cpu
