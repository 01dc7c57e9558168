// Pad: modes constant, reflect and edge; pads (attribute before opset 11, input from 11) may be negative,
// which crops. Output coordinate o of a dim reads input coordinate o - pad_begin, mapped back into range by
// the mode (or "padding" in constant mode). The output is written row by row (a row is the last dim): rows
// that hit padding in an outer dim are filled, the others copy their middle with one memcpy and map the
// padded ends element by element. Nothing is precomputed per coordinate, so Prepare's memory does not grow
// with the pads.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/tensor_util.h"

namespace ferry::cpu {
namespace {

enum class PadMode { kConstant, kReflect, kEdge };

class PadKernel : public Kernel {
 public:
  PadKernel(PadMode mode, int opset, std::vector<int64_t> pads, float value)
      : mode_(mode), opset_(opset), pads_attr_(std::move(pads)), value_attr_(value) {}

  Status Prepare(KernelContext& ctx) override {
    if (!ctx.has_input(0)) return InvalidArgument("Pad: input 'data' is missing");
    const TensorView& x = ctx.input(0);
    FERRY_RETURN_IF_ERROR(CheckFixedSizeTypeKnown(x.dtype, "Pad", "input 0"));
    std::vector<int64_t> pads = pads_attr_;
    if (opset_ >= 11) {
      FERRY_ASSIGN_OR_RETURN(pads, ReadConstantInts(ctx, 1, "Pad", "pads"));
      if (ctx.has_input(2) && ctx.input(2).dtype != x.dtype) {
        return InvalidArgument("Pad: constant_value has type {} but data has {}", DataTypeName(ctx.input(2).dtype),
                               DataTypeName(x.dtype));
      }
    } else {
      FERRY_RETURN_IF_ERROR(StoreScalar(x.dtype, value_attr_, value_));
    }
    const int64_t r = x.rank();
    if (static_cast<int64_t>(pads.size()) != 2 * r) {
      return InvalidArgument("Pad: pads has {} entries; expected 2 * rank = {}", pads.size(), 2 * r);
    }
    constexpr int64_t kMaxPad = int64_t{1} << 40;
    for (int64_t p : pads) {
      if (p > kMaxPad || p < -kMaxPad) return ResourceExhausted("Pad: pad {} is too large", p);
    }
    // A scalar is treated as shape [1] so the row machinery below always has a last dim.
    in_shape_ = r == 0 ? Shape{1} : x.shape;
    const size_t rr = in_shape_.size();
    begin_.assign(rr, 0);
    out_shape_.assign(rr, 0);
    for (size_t d = 0; d < rr; ++d) {
      const int64_t begin = r == 0 ? 0 : pads[d];
      const int64_t end = r == 0 ? 0 : pads[d + rr];
      const int64_t dim = in_shape_[d];
      begin_[d] = begin;
      out_shape_[d] = dim + begin + end;
      if (out_shape_[d] < 0) {
        return InvalidArgument("Pad: pads {} and {} on axis {} crop more than its size {}", begin, end, d, dim);
      }
      if (out_shape_[d] > 0 && dim == 0 && mode_ != PadMode::kConstant) {
        return InvalidArgument("Pad: cannot pad empty axis {} in mode {}", d,
                               mode_ == PadMode::kEdge ? "edge" : "reflect");
      }
    }
    FERRY_RETURN_IF_ERROR(CheckComputedShape(out_shape_, "Pad"));
    ctx.set_output(0, x.dtype, r == 0 ? Shape{} : out_shape_);
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const TensorView& x = ctx.input(0);
    TensorView& y = ctx.output(0);
    const size_t elem = DataTypeSize(x.dtype);
    if (opset_ >= 11) {
      std::memset(value_, 0, sizeof(value_));
      if (ctx.has_input(2) && ctx.input(2).numel() > 0) std::memcpy(value_, ctx.input(2).data, elem);
    }
    const int64_t rr = static_cast<int64_t>(out_shape_.size());
    const int64_t width = out_shape_[rr - 1];
    const int64_t total = NumElements(out_shape_);
    if (total == 0) return Status::Ok();
    const int64_t rows = total / width;
    const std::vector<int64_t> in_strides = RowMajorStrides(in_shape_);
    const char* src = static_cast<const char*>(x.data);
    char* dst = static_cast<char*>(y.data);
    // The last dim: [0, lo) and [hi, width) are padding, [lo, hi) copies input [lo - begin, hi - begin).
    const int64_t last_dim = in_shape_[rr - 1];
    const int64_t last_begin = begin_[rr - 1];
    const int64_t lo = std::clamp<int64_t>(last_begin, 0, width);
    const int64_t hi = std::clamp<int64_t>(last_begin + last_dim, lo, width);
    ParallelFor(rows, ctx.num_threads(), width * static_cast<int64_t>(elem) / 4 + 1, [&](int64_t b, int64_t e) {
      std::vector<int64_t> idx(static_cast<size_t>(rr), 0);
      int64_t rem = b;
      for (int64_t k = rr - 2; k >= 0; --k) {
        idx[k] = rem % out_shape_[k];
        rem /= out_shape_[k];
      }
      for (int64_t row = b; row < e; ++row) {
        char* out = dst + static_cast<size_t>(row * width) * elem;
        int64_t off = 0;
        bool padding = false;
        for (int64_t k = 0; k < rr - 1; ++k) {
          const int64_t c = Map(idx[k] - begin_[k], in_shape_[k]);
          if (c < 0) {
            padding = true;
            break;
          }
          off += c * in_strides[k];
        }
        if (padding) {
          FillElements(out, value_, elem, width);
        } else {
          const char* in = src + static_cast<size_t>(off) * elem;
          PadEnds(in, out, 0, lo, last_begin, last_dim, elem);
          if (hi > lo) {
            std::memcpy(out + lo * elem, in + (lo - last_begin) * elem, static_cast<size_t>(hi - lo) * elem);
          }
          PadEnds(in, out, hi, width, last_begin, last_dim, elem);
        }
        for (int64_t k = rr - 2; k >= 0; --k) {
          if (++idx[k] < out_shape_[k]) break;
          idx[k] = 0;
        }
      }
    });
    return Status::Ok();
  }

 private:
  // Input coordinate for (output coordinate - begin) = c on a dim of size dim, or -1 for constant padding.
  int64_t Map(int64_t c, int64_t dim) const {
    if (c >= 0 && c < dim) return c;
    switch (mode_) {
      case PadMode::kConstant:
        return -1;
      case PadMode::kEdge:
        return c < 0 ? 0 : dim - 1;
      case PadMode::kReflect:
        break;
    }
    if (dim == 1) return 0;
    const int64_t period = 2 * (dim - 1);
    c %= period;
    if (c < 0) c += period;
    return c >= dim ? period - c : c;
  }

  // Output elements [from, to) of a row, all of which are padding in the last dim.
  void PadEnds(const char* in, char* out, int64_t from, int64_t to, int64_t begin, int64_t dim, size_t elem) const {
    if (to <= from) return;
    if (mode_ == PadMode::kConstant) {
      FillElements(out + from * elem, value_, elem, to - from);
      return;
    }
    for (int64_t o = from; o < to; ++o) std::memcpy(out + o * elem, in + Map(o - begin, dim) * elem, elem);
  }

  const PadMode mode_;
  const int opset_;
  const std::vector<int64_t> pads_attr_;
  const float value_attr_;
  unsigned char value_[16] = {};
  Shape in_shape_, out_shape_;
  std::vector<int64_t> begin_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreatePad(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckFixedSizeType(InputType(def, 0), "Pad", "input 0"));
  const std::string mode = def.attrs.String("mode", "constant");
  PadMode m;
  if (mode == "constant") {
    m = PadMode::kConstant;
  } else if (mode == "reflect") {
    m = PadMode::kReflect;
  } else if (mode == "edge") {
    m = PadMode::kEdge;
  } else {
    return Unimplemented("Pad: mode \"{}\" is not supported (supported: constant, reflect, edge)", mode);
  }
  if (def.opset < 11 && !def.attrs.Has("pads")) return InvalidArgument("Pad: attribute 'pads' is required");
  return MakeKernel<PadKernel>(m, def.opset, def.attrs.Ints("pads"), def.attrs.Float("value", 0.f));
}

}  // namespace ferry::cpu
