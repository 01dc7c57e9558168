// Conv (opset 1+): 1-D to 3-D, groups, dilations, strides, pads / auto_pad, optional bias, fused activation.
//
// The general path is im2col + SGEMM (OpenBLAS) per unit of work, followed at once by the bias + activation
// pass over the unit's output while it is in cache. A unit is one image (or several, for small feature maps,
// side by side in one GEMM), one group, and when one image must be spread over threads, a column tile or a
// block of output channels. 1x1 stride-1 unpadded convs skip im2col and multiply the input directly. Convs
// with one input channel per group and few outputs per group (depthwise) run a direct loop, where a GEMM
// would be a matrix-vector product.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/tensor.h"
#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/conv_packed.h"
#include "kernels/cpu/conv_threads.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

// Small feature maps are multiplied several images at a time, up to about this many GEMM columns: narrow GEMMs
// run slower and repack the weights on every call.
constexpr int64_t kTargetCols = 768;
// A column buffer (per thread) beyond this size is split into column tiles.
constexpr int64_t kMaxColBytes = int64_t{32} << 20;
// Narrower tiles make the GEMM repack its weights too often for the work done.
constexpr int64_t kMinTileCols = 256;
// To spread a small conv over threads, column tiles may go down to this width before output channels are split.
constexpr int64_t kMinSplitCols = 64;
// Above this many outputs per group, a Cg == 1 conv is a real GEMM rather than a depthwise filter.
constexpr int64_t kMaxDirectOutputsPerGroup = 4;
// Budget for one packed column block of the packed GEMM path: about half of L2.
constexpr int64_t kPackedColBytes = int64_t{1} << 20;

class ConvKernel : public Kernel {
 public:
  ConvKernel(WindowAttrs attrs, int64_t group, Activation act) : attrs_(std::move(attrs)), group_(group), act_(act) {}

  Status Prepare(KernelContext& ctx) override {
    FERRY_RETURN_IF_ERROR(CheckConvInputs(ctx, "Conv"));
    const TensorView& x = ctx.input(0);
    const TensorView& w = ctx.input(1);
    n_ = x.shape[0];
    c_ = x.shape[1];
    m_ = w.shape[0];
    if (c_ % group_ != 0 || w.shape[1] * group_ != c_) {
      return InvalidArgument("X has {} channels; W {} with group {} expects {}", c_, ShapeToString(w.shape), group_,
                             w.shape[1] * group_);
    }
    if (m_ % group_ != 0) return InvalidArgument("W has {} output channels, not a multiple of group {}", m_, group_);
    has_bias_ = ctx.has_input(2);
    FERRY_RETURN_IF_ERROR(CheckConvBias(ctx, m_));
    FERRY_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, ConvKernelDims(attrs_, w.shape));
    FERRY_ASSIGN_OR_RETURN(g_, ResolveForwardGeometry(attrs_, SpatialDims(x.shape), kernel));
    Shape out_shape = {n_, m_};
    for (int64_t d : g_.OutDims()) out_shape.push_back(d);
    ctx.set_output(0, DataType::kFloat, out_shape);

    cg_ = c_ / group_;
    mg_ = m_ / group_;
    kg_ = cg_ * g_.kernel_size();
    const int64_t out_size = g_.out_size();
    if (mg_ > INT32_MAX || kg_ > INT32_MAX || out_size > INT32_MAX || g_.in_size() > INT32_MAX) {
      return Unimplemented("Conv of {} with W {} exceeds the BLAS index range", ShapeToString(x.shape),
                           ShapeToString(w.shape));
    }
    pointwise_ = g_.kernel_size() == 1;
    for (int d = 0; d < kMaxSpatialDims; ++d) {
      if (g_.stride[d] != 1 || g_.pad_begin[d] != 0 || g_.pad_end[d] != 0) pointwise_ = false;
    }
    direct_ = !pointwise_ && cg_ == 1 && mg_ <= kMaxDirectOutputsPerGroup;
    // Constant weights are packed here (one copy per model and device through ctx.derived(), see
    // conv_packed.h); Compute checks it still sees the same buffer.
    packed_w_.reset();
    packable_ =
        !direct_ && kg_ > 0 && mg_ > 0 && ctx.input_known(1) && ConvGemmAvailable() && PackedMatrix::Available();
    PlanWork(PlannedThreads(ctx));
    // Planned for the BLAS path too, which runs when the weights could not be packed.
    ctx.request_scratch(static_cast<size_t>(col_floats_ + tmp_floats_) * threads_ * sizeof(float));
    if (packable_) {
      packed_w_ = GetConvPackedWeights(ctx.derived(), 1, w.as<float>(), group_, mg_, kg_, transposed_);
      if (!packed_w_) return Status::Ok();
      packed_ = ConvPackedPlan{g_,
                               c_,
                               m_,
                               mg_,
                               kg_,
                               pointwise_,
                               block_cols_,
                               col_floats_,
                               mblock_rows_,
                               act_,
                               packed_w_.get(),
                               ConvPackedWeightFloatsPerGroup(mg_, kg_, transposed_)};
    }
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const float* x = ctx.input(0).as<float>();
    const float* w = ctx.input(1).as<float>();
    const float* bias = has_bias_ ? ctx.input(2).as<float>() : nullptr;
    float* y = ctx.output(0).as<float>();
    const int64_t out_size = g_.out_size();
    if (n_ == 0 || m_ == 0 || out_size == 0) return Status::Ok();
    // One column buffer per planned thread.
    const int threads = std::min(std::max(1, ctx.num_threads()), threads_);
    if (kg_ == 0) {  // no input channels: the output is the bias alone
      std::memset(y, 0, static_cast<size_t>(n_ * m_ * out_size) * sizeof(float));
      for (int64_t n = 0; n < n_; ++n) BiasActivation(y + n * m_ * out_size, m_, out_size, out_size, bias, act_);
      return Status::Ok();
    }
    if (direct_) {
      ComputeDirect(x, w, bias, y, threads);
      return Status::Ok();
    }
    float* scratch = static_cast<float*>(ctx.scratch());
    const int64_t units = num_blocks_ * group_ * num_tiles_ * num_mblocks_;
    const int64_t per_thread = col_floats_ + tmp_floats_;
    // Known inputs keep their value from Prepare to Compute (kernel.h), whichever memory holds them (a device's
    // copy of the weights, say): the packed weights apply.
    use_packed_ = packed_w_ != nullptr;
    // OpenBLAS runs single-threaded inside the parallel region, so each thread owns whole units.
    RunUnitsDynamic(units, threads, [&](int t) {
      return [this, x, w, bias, y, col = scratch + per_thread * t, cached = int64_t{-1}](int64_t u) mutable {
        RunUnit(u, x, w, bias, y, col, &cached);
      };
    });
    return Status::Ok();
  }

 private:
  // Splits the work into units of (block of images, group, column tile, block of output channels), enough of
  // them to keep `threads` threads equally busy. Small feature maps take several images per unit; a single
  // image is cut into column tiles, and when too small for that, into blocks of output channels (each block
  // then repeats its tile's im2col).
  void PlanWork(int threads) {
    const int64_t out_size = g_.out_size();
    threads_ = std::max(1, threads);
    auto balanced = [&](int64_t units) { return Balanced(units, threads_); };
    int64_t nb = std::clamp<int64_t>(kTargetCols / std::max<int64_t>(out_size, 1), 1, std::max<int64_t>(n_, 1));
    while (nb > 1 && threads_ > 1 && !balanced((n_ + nb - 1) / nb * group_)) --nb;
    int64_t tiles = 1, mblocks = 1;
    if (nb == 1) {
      if (!pointwise_ && kg_ * out_size * 4 > kMaxColBytes) {
        const int64_t cols = std::max(kMinTileCols, kMaxColBytes / (4 * kg_));
        tiles = (out_size + cols - 1) / cols;
      }
      const int64_t images = n_ * group_;
      if (threads_ > 1 && images > 0 && !balanced(images * tiles)) {
        int64_t t = tiles;
        while (!balanced(images * t) && out_size / (t + 1) >= kMinSplitCols) ++t;
        if (balanced(images * t)) {
          tiles = t;
        } else {
          mblocks = std::min<int64_t>(threads_, std::max<int64_t>(1, (mg_ + 15) / 16));
        }
      }
    }
    images_per_block_ = nb;
    num_blocks_ = (n_ + nb - 1) / nb;
    num_tiles_ = std::min(tiles, std::max<int64_t>(out_size, 1));
    num_mblocks_ = mblocks;
    // Output-channel blocks in multiples of 16 rows, the GEMM micro-kernel's height.
    mblock_rows_ = ((mg_ + mblocks - 1) / mblocks + 15) / 16 * 16;
    const int64_t max_cols = nb > 1 ? nb * out_size : (out_size + num_tiles_ - 1) / num_tiles_;
    col_floats_ = direct_ || (pointwise_ && nb == 1) ? 0 : kg_ * max_cols;
    tmp_floats_ = nb > 1 ? mg_ * max_cols : 0;
    transposed_ = packable_ && nb == 1 && max_cols <= kConvTransposedMaxCols;
    if (transposed_) {
      // Channel blocks in whole 32-channel panels of the transposed weights.
      mblock_rows_ = ((mg_ + mblocks - 1) / mblocks + 31) / 32 * 32;
      const int64_t floats = kConvTransposedMaxCols * (kg_ + mblock_rows_) + kConvRowBufFloats;
      col_floats_ = (std::max(col_floats_, floats) + 15) / 16 * 16;
    } else if (packable_) {
      // Column blocks whose packed form (kg_ x block_cols_) stays in L2 from packing to use. Every block streams
      // all of the unit's weights again, so big weights (deep layers, whose maps are small) get bigger blocks.
      const int64_t budget = std::max(kPackedColBytes, 4 * mg_ * kg_);
      const int64_t fit = std::max<int64_t>(kConvNr, budget / (4 * std::max<int64_t>(kg_, 1)));
      block_cols_ = std::min(fit / kConvNr, (max_cols + kConvNr - 1) / kConvNr) * kConvNr;
      block_cols_ = std::max(block_cols_, kConvNr);
      // Packed block, then one row of it before packing; a multiple of 16 floats keeps each thread's share
      // 64-byte aligned.
      // Planned for the BLAS path too, which runs if Compute sees a different weight buffer.
      const int64_t packed_floats =
          static_cast<int64_t>(ConvPackedColFloats(kg_, block_cols_)) + std::max(block_cols_, kConvRowBufFloats);
      col_floats_ = (std::max(col_floats_, packed_floats) + 15) / 16 * 16;
      tmp_floats_ = (tmp_floats_ + 15) / 16 * 16;
    }
  }

  // One unit: im2col of its images or tile (unless pointwise, or already in col from this thread's previous
  // unit, as *cached records), then GEMM and bias + activation for its block of output channels. buf holds
  // the column matrix, then (for several images) the GEMM result before it is scattered to the images.
  void RunUnit(int64_t u, const float* x, const float* w, const float* bias, float* y, float* buf,
               int64_t* cached) const {
    const int64_t out_size = g_.out_size(), in_size = g_.in_size();
    const int64_t mb = u % num_mblocks_;
    const int64_t tile_id = u / num_mblocks_;  // (image block, group, tile) index
    const int64_t tile = tile_id % num_tiles_;
    const int64_t grp = (tile_id / num_tiles_) % group_;
    const int64_t blk = tile_id / (num_tiles_ * group_);
    const int64_t n0 = blk * images_per_block_, nimg = std::min(n_ - n0, images_per_block_);
    const int64_t p0 = out_size * tile / num_tiles_, p1 = out_size * (tile + 1) / num_tiles_;
    const int64_t cols = nimg > 1 ? nimg * out_size : p1 - p0;
    const int64_t m0 = std::min(mg_, mb * mblock_rows_), m1 = std::min(mg_, m0 + mblock_rows_);
    if (m1 <= m0 || cols == 0) return;
    const float* xg = x + (n0 * c_ + grp * cg_) * in_size;
    if (use_packed_ && transposed_) {
      ConvRunUnitTransposed(packed_, grp, p0, cols, m0, m1, xg, bias, y + (n0 * m_ + grp * mg_ + m0) * out_size, buf);
      return;
    }
    if (use_packed_) {
      ConvRunUnitPacked(packed_, grp, n0, nimg, p0, cols, m0, m1, xg, bias, y, buf);
      return;
    }
    float* col = buf;
    const float* b_mat = col;
    int64_t ldb = cols;
    if (pointwise_ && nimg == 1) {
      b_mat = xg + p0;
      ldb = out_size;
    } else if (*cached != tile_id) {
      for (int64_t i = 0; i < nimg; ++i) {
        Im2ColRows(xg + i * c_ * in_size, g_, 0, kg_, p0, p1, col + i * out_size, cols);
      }
      *cached = tile_id;
    }
    const float* bg = bias != nullptr ? bias + grp * mg_ + m0 : nullptr;
    const float* wg = w + (grp * mg_ + m0) * kg_;
    float* yg = y + (n0 * m_ + grp * mg_ + m0) * out_size;
    if (nimg == 1) {
      Gemm(m1 - m0, cols, wg, b_mat, ldb, yg + p0, out_size);
      BiasActivation(yg + p0, m1 - m0, cols, out_size, bg, act_);
      return;
    }
    float* tmp = buf + col_floats_;
    Gemm(m1 - m0, cols, wg, b_mat, ldb, tmp, cols);
    for (int64_t i = 0; i < nimg; ++i) {
      float* yi = yg + i * m_ * out_size;
      for (int64_t r = 0; r < m1 - m0; ++r)
        std::memcpy(yi + r * out_size, tmp + r * cols + i * out_size, out_size * sizeof(float));
      BiasActivation(yi, m1 - m0, out_size, out_size, bg, act_);
    }
  }

  // c[rows, cols] (leading dimension ldc) = w[rows, kg_] * b[kg_, cols] (leading dimension ldb).
  void Gemm(int64_t rows, int64_t cols, const float* w, const float* b, int64_t ldb, float* c, int64_t ldc) const {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(cols),
                static_cast<int>(kg_), 1.f, w, static_cast<int>(kg_), b, static_cast<int>(ldb), 0.f, c,
                static_cast<int>(ldc));
  }

  // Cg == 1: each output channel filters one input channel.
  void ComputeDirect(const float* x, const float* w, const float* bias, float* y, int threads) const {
    const int64_t ksp = g_.kernel_size();
    const int64_t out_size = g_.out_size(), in_size = g_.in_size();
    const int64_t KD = g_.kernel[0], KH = g_.kernel[1], KW = g_.kernel[2];
    const int64_t OD = g_.out[0], OH = g_.out[1], OW = g_.out[2];
    const int64_t ID = g_.in[0], IH = g_.in[1], IW = g_.in[2];
    const int64_t sw = g_.stride[2];
    ParallelFor(n_ * m_, threads, out_size * ksp, [&](int64_t b, int64_t e) {
      for (int64_t nm = b; nm < e; ++nm) {
        const int64_t n = nm / m_, m = nm % m_;
        const float* xc = x + (n * c_ + m / mg_) * in_size;
        float* yc = y + nm * out_size;
        std::fill(yc, yc + out_size, 0.f);
        for (int64_t kd = 0; kd < KD; ++kd) {
          for (int64_t kh = 0; kh < KH; ++kh) {
            for (int64_t kw = 0; kw < KW; ++kw) {
              const float wv = w[m * ksp + (kd * KH + kh) * KW + kw];
              const int64_t iw0 = kw * g_.dilation[2] - g_.pad_begin[2];
              // Output columns whose tap lands inside the row.
              int64_t j0 = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw;
              int64_t j1 = iw0 >= IW ? 0 : (IW - iw0 + sw - 1) / sw;
              j0 = std::min(j0, OW);
              j1 = std::max(j0, std::min(j1, OW));
              for (int64_t od = 0; od < OD; ++od) {
                const int64_t id = od * g_.stride[0] - g_.pad_begin[0] + kd * g_.dilation[0];
                if (id < 0 || id >= ID) continue;
                for (int64_t oh = 0; oh < OH; ++oh) {
                  const int64_t ih = oh * g_.stride[1] - g_.pad_begin[1] + kh * g_.dilation[1];
                  if (ih < 0 || ih >= IH) continue;
                  const float* src = xc + (id * IH + ih) * IW;
                  float* dst = yc + (od * OH + oh) * OW;
                  if (sw == 1) {
#pragma omp simd
                    for (int64_t j = j0; j < j1; ++j) dst[j] += wv * src[iw0 + j];
                  } else {
                    for (int64_t j = j0; j < j1; ++j) dst[j] += wv * src[iw0 + j * sw];
                  }
                }
              }
            }
          }
        }
        BiasActivation(yc, 1, out_size, out_size, bias != nullptr ? bias + m : nullptr, act_);
      }
    });
  }

  const WindowAttrs attrs_;
  const int64_t group_;
  const Activation act_;
  // Plan from Prepare.
  WindowGeometry g_;
  int64_t n_ = 0, c_ = 0, m_ = 0, cg_ = 0, mg_ = 0, kg_ = 0;
  bool has_bias_ = false;
  bool pointwise_ = false;
  bool direct_ = false;
  int64_t images_per_block_ = 1, num_blocks_ = 1, num_tiles_ = 1, num_mblocks_ = 1, mblock_rows_ = 1;
  int64_t tmp_floats_ = 0;
  int threads_ = 1;
  int64_t col_floats_ = 0;
  // Weights packed for the packed paths (shared with other plans), the buffer they were packed from, the column
  // block width of the packed path, and the plan handed to the packed paths; use_packed_ is set per Compute.
  std::shared_ptr<const float> packed_w_;
  int64_t block_cols_ = kConvNr;
  ConvPackedPlan packed_;
  bool use_packed_ = false;
  // Whether the weights may be packed (known, and a CPU with the kernels), and whether they are packed for
  // ConvRunUnitTransposed (PackedMatrix's layout) rather than for ConvGemm.
  bool packable_ = false;
  bool transposed_ = false;
};

}  // namespace

Result<std::unique_ptr<Kernel>> CreateConv(const KernelDef& def) {
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 0, {DataType::kFloat}));
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 1, {DataType::kFloat}));
  FERRY_RETURN_IF_ERROR(CheckInputType(def, 2, {DataType::kFloat}));
  FERRY_ASSIGN_OR_RETURN(WindowAttrs attrs, ParseWindowAttrs(def.attrs, /*has_ceil_mode=*/false));
  const int64_t group = def.attrs.Int("group", 1);
  if (group < 1) return InvalidArgument("group {} must be >= 1", group);
  return MakeKernel<ConvKernel>(std::move(attrs), group, def.activation);
}

}  // namespace ferry::cpu
