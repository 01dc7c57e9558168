// ConvTranspose (opset 1+): 1-D to 3-D, groups, strides, dilations, pads / auto_pad, output_padding,
// output_shape, optional bias, fused activation.
//
// Per (image, group): one GEMM W^T * X gives the column matrix of the output (one row per output channel and
// kernel offset, one column per input position), and col2im scatters it onto the output. This is the adjoint
// of Conv's im2col path, so the geometry below is that of the forward conv that maps Y back onto X.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/conv_threads.h"
#include "kernels/cpu/im2col.h"

namespace ferry::cpu {
namespace {

// Column buffers (per thread) beyond this size are cut into blocks of output channels.
constexpr int64_t kMaxColBytes = int64_t{32} << 20;

class ConvTransposeKernel : public Kernel {
 public:
  ConvTransposeKernel(WindowAttrs attrs, int64_t group, std::vector<int64_t> output_padding,
                      std::vector<int64_t> output_shape, Activation act)
      : attrs_(std::move(attrs)),
        group_(group),
        output_padding_(std::move(output_padding)),
        output_shape_(std::move(output_shape)),
        act_(act) {}

  Status Prepare(KernelContext& ctx) override {
    FERRY_RETURN_IF_ERROR(CheckConvInputs(ctx, "ConvTranspose"));
    const TensorView& x = ctx.input(0);
    const TensorView& w = ctx.input(1);
    const size_t r = static_cast<size_t>(x.rank() - 2);
    if (r > kMaxSpatialDims) return Unimplemented("{} spatial dims are not supported (1 to {})", r, kMaxSpatialDims);
    n_ = x.shape[0];
    cin_ = x.shape[1];
    if (w.shape[0] != cin_ || cin_ % group_ != 0) {
      return InvalidArgument("X has {} channels; W {} with group {} does not match", cin_, ShapeToString(w.shape),
                             group_);
    }
    cig_ = cin_ / group_;
    cog_ = w.shape[1];
    cout_ = cog_ * group_;
    has_bias_ = ctx.has_input(2);
    FERRY_RETURN_IF_ERROR(CheckConvBias(ctx, cout_));
    FERRY_ASSIGN_OR_RETURN(const std::vector<int64_t> kernel, ConvKernelDims(attrs_, w.shape));
    auto check_len = [&](const std::vector<int64_t>& v, const char* name, size_t want) -> Status {
      if (!v.empty() && v.size() != want) {
        return InvalidArgument("{} has {} values; expected {} for {} spatial dims", name, v.size(), want, r);
      }
      return Status::Ok();
    };
    FERRY_RETURN_IF_ERROR(check_len(attrs_.strides, "strides", r));
    FERRY_RETURN_IF_ERROR(check_len(attrs_.dilations, "dilations", r));
    FERRY_RETURN_IF_ERROR(check_len(attrs_.pads, "pads", 2 * r));
    FERRY_RETURN_IF_ERROR(check_len(output_padding_, "output_padding", r));
    if (!output_shape_.empty() && output_shape_.size() != r && output_shape_.size() != r + 2) {
      return InvalidArgument("output_shape has {} values; expected {} or {}", output_shape_.size(), r, r + 2);
    }

    // g_ describes the forward conv from Y ("in") to X ("out").
    g_ = WindowGeometry();
    g_.rank = static_cast<int>(r);
    const int off = kMaxSpatialDims - g_.rank;
    Shape y_shape = {n_, cout_};
    for (size_t i = 0; i < r; ++i) {
      const int d = off + static_cast<int>(i);
      const int64_t in = x.shape[2 + i];
      const int64_t s = attrs_.strides.empty() ? 1 : attrs_.strides[i];
      const int64_t dil = attrs_.dilations.empty() ? 1 : attrs_.dilations[i];
      const int64_t adj = output_padding_.empty() ? 0 : output_padding_[i];
      const int64_t k = kernel[i];
      if (k < 1) return InvalidArgument("W has an empty kernel dim {}", i);
      const int64_t full = (in - 1) * s + adj + (k - 1) * dil + 1;  // output size with no padding
      int64_t out, head;
      if (!output_shape_.empty() || attrs_.auto_pad == AutoPad::kSameUpper || attrs_.auto_pad == AutoPad::kSameLower) {
        out = !output_shape_.empty() ? output_shape_[output_shape_.size() - r + i] : in * s;
        if (out < 0) return InvalidArgument("output_shape has a negative dim {}", out);
        const int64_t total = std::max<int64_t>(0, full - out);
        // As the ONNX spec words it (and its test data computes): the larger half goes last for SAME_UPPER, first
        // otherwise. onnxruntime differs on odd totals.
        head = attrs_.auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      } else {
        const bool valid = attrs_.auto_pad == AutoPad::kValid;
        head = valid || attrs_.pads.empty() ? 0 : attrs_.pads[i];
        const int64_t tail = valid || attrs_.pads.empty() ? 0 : attrs_.pads[i + r];
        out = full - head - tail;
        if (out < 0)
          return InvalidArgument("pads {}+{} exceed the output size {} of spatial dim {}", head, tail, full, i);
      }
      g_.in[d] = out;
      g_.out[d] = in;
      g_.kernel[d] = k;
      g_.stride[d] = s;
      g_.dilation[d] = dil;
      g_.pad_begin[d] = head;
      y_shape.push_back(out);
    }
    ctx.set_output(0, DataType::kFloat, y_shape);
    rows_ = cog_ * g_.kernel_size();
    if (rows_ > INT32_MAX || cig_ > INT32_MAX || g_.out_size() > INT32_MAX) {
      return Unimplemented("ConvTranspose of {} with W {} exceeds the BLAS index range", ShapeToString(x.shape),
                           ShapeToString(w.shape));
    }
    // Units of (image, group, block of output channels); channel blocks to spread few images over threads, and
    // to bound the column buffer.
    threads_ = PlannedThreads(ctx);
    num_cblocks_ = 1;
    if (threads_ > 1 && !Balanced(n_ * group_, threads_)) {
      num_cblocks_ = std::max<int64_t>(1, std::min<int64_t>(cog_, threads_));
    }
    block_channels_ = (cog_ + num_cblocks_ - 1) / num_cblocks_;
    const int64_t channel_bytes = g_.kernel_size() * g_.out_size() * static_cast<int64_t>(sizeof(float));
    if (block_channels_ * channel_bytes > kMaxColBytes) {
      block_channels_ = std::max<int64_t>(1, kMaxColBytes / std::max<int64_t>(channel_bytes, 1));
      num_cblocks_ = (cog_ + block_channels_ - 1) / block_channels_;
    }
    col_floats_ = block_channels_ * g_.kernel_size() * g_.out_size();
    ctx.request_scratch(static_cast<size_t>(col_floats_) * threads_ * sizeof(float));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const float* x = ctx.input(0).as<float>();
    const float* w = ctx.input(1).as<float>();
    const float* bias = has_bias_ ? ctx.input(2).as<float>() : nullptr;
    float* y = ctx.output(0).as<float>();
    const int64_t y_size = g_.in_size();
    if (n_ == 0 || cout_ == 0 || y_size == 0) return Status::Ok();
    const int threads = std::min(std::max(1, ctx.num_threads()), threads_);
    float* scratch = static_cast<float*>(ctx.scratch());
    const int64_t units = n_ * group_ * num_cblocks_;
    // As in Conv: units taken as threads go, single-threaded GEMMs inside.
    RunUnitsDynamic(units, threads, [&](int t) {
      return [this, x, w, bias, y, col = scratch + col_floats_ * t](int64_t u) { RunUnit(u, x, w, bias, y, col); };
    });
    return Status::Ok();
  }

 private:
  // Output channels [c0, c1) of one (image, group): GEMM into the column matrix of those channels, col2im, then
  // bias + activation.
  void RunUnit(int64_t u, const float* x, const float* w, const float* bias, float* y, float* col) const {
    const int64_t y_size = g_.in_size(), x_size = g_.out_size(), ksp = g_.kernel_size();
    const int64_t cb = u % num_cblocks_, grp = (u / num_cblocks_) % group_, n = u / (num_cblocks_ * group_);
    const int64_t c0 = std::min(cog_, cb * block_channels_), c1 = std::min(cog_, c0 + block_channels_);
    if (c1 <= c0) return;
    float* yb = y + (n * cout_ + grp * cog_ + c0) * y_size;
    std::memset(yb, 0, static_cast<size_t>((c1 - c0) * y_size) * sizeof(float));
    if (cig_ > 0 && x_size > 0) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>((c1 - c0) * ksp), static_cast<int>(x_size),
                  static_cast<int>(cig_), 1.f, w + grp * cig_ * rows_ + c0 * ksp, static_cast<int>(rows_),
                  x + (n * cin_ + grp * cig_) * x_size, static_cast<int>(x_size), 0.f, col, static_cast<int>(x_size));
      Col2ImAddChannels(col, g_, 0, c1 - c0, yb);
    }
    BiasActivation(yb, c1 - c0, y_size, y_size, bias != nullptr ? bias + grp * cog_ + c0 : nullptr, act_);
  }

  const WindowAttrs attrs_;
  const int64_t group_;
  const std::vector<int64_t> output_padding_;
  const std::vector<int64_t> output_shape_;
  const Activation act_;
  // Plan from Prepare.
  WindowGeometry g_;
  int64_t n_ = 0, cin_ = 0, cig_ = 0, cog_ = 0, cout_ = 0, rows_ = 0;
  bool has_bias_ = false;
  int threads_ = 1;
  int64_t num_cblocks_ = 1, block_channels_ = 1, col_floats_ = 0;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateConvTranspose(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, {DataType::kFloat}));
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 1, {DataType::kFloat}));
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 2, {DataType::kFloat}));
  FERRY_ASSIGN_OR_RETURN(WindowAttrs attrs, ParseWindowAttrs(def.attrs, /*has_ceil_mode=*/false));
  const int64_t group = def.attrs.Int("group", 1);
  if (group < 1) return InvalidArgument("group {} must be >= 1", group);
  std::vector<int64_t> output_padding = def.attrs.Ints("output_padding");
  for (int64_t v : output_padding) {
    if (v < 0) return InvalidArgument("output_padding has value {}; must be >= 0", v);
  }
  std::vector<int64_t> output_shape = def.attrs.Ints("output_shape");
  return MakeKernel<ConvTransposeKernel>(std::move(attrs), group, std::move(output_padding), std::move(output_shape),
                                         def.activation);
}

}  // namespace ferry::cpu
