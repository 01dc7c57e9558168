// Conv (opset 1+): 1-D to 3-D, groups, dilations, strides, pads / auto_pad, optional bias, fused activation.
//
// The general path is im2col + SGEMM per (image, group, column tile): the column matrix of one tile stays in
// L2 and the GEMM writes its tile of the output in place, followed at once by the bias + activation pass.
// 1x1 stride-1 unpadded convs skip im2col and multiply the input directly. Convs with one input channel per
// group and few outputs per group (depthwise) run a direct loop, where a GEMM would be a matrix-vector product.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/conv_attrs.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/im2col.h"
#include "kernels/cpu/parallel.h"

namespace ferry::cpu {
namespace {

// Column-matrix tiles up to this size stay resident in L2 between im2col and the GEMM that reads them.
constexpr int64_t kColTileBytes = int64_t{1} << 20;
// Narrower tiles make the GEMM repack its weights too often for the work done.
constexpr int64_t kMinTileCols = 256;
// Above this many outputs per group, a Cg == 1 conv is a real GEMM rather than a depthwise filter.
constexpr int64_t kMaxDirectOutputsPerGroup = 4;

class ConvKernel : public Kernel {
 public:
  ConvKernel(WindowAttrs attrs, int64_t group, Activation act) : attrs_(std::move(attrs)), group_(group), act_(act) {}

  Status Prepare(KernelContext& ctx) override {
    if (ctx.num_inputs() < 2 || !ctx.has_input(0) || !ctx.has_input(1)) {
      return InvalidArgument("Conv needs inputs X and W");
    }
    const TensorView& x = ctx.input(0);
    const TensorView& w = ctx.input(1);
    FERRY_RETURN_IF_ERROR(CheckInputType(x.dtype, 0, {DataType::kFloat}));
    FERRY_RETURN_IF_ERROR(CheckInputType(w.dtype, 1, {DataType::kFloat}));
    if (x.rank() < 3) return InvalidArgument("X has rank {}; Conv needs [N, C, spatial...]", x.rank());
    if (w.rank() != x.rank()) return InvalidArgument("W has rank {}; X has rank {}", w.rank(), x.rank());
    n_ = x.shape[0];
    c_ = x.shape[1];
    m_ = w.shape[0];
    if (c_ % group_ != 0 || w.shape[1] * group_ != c_) {
      return InvalidArgument("X has {} channels; W {} with group {} expects {}", c_, ShapeToString(w.shape), group_,
                             w.shape[1] * group_);
    }
    if (m_ % group_ != 0) return InvalidArgument("W has {} output channels, not a multiple of group {}", m_, group_);
    has_bias_ = ctx.has_input(2);
    if (has_bias_) {
      const TensorView& b = ctx.input(2);
      FERRY_RETURN_IF_ERROR(CheckInputType(b.dtype, 2, {DataType::kFloat}));
      if (b.rank() != 1 || b.shape[0] != m_) {
        return InvalidArgument("B has shape {}; expected [{}]", ShapeToString(b.shape), m_);
      }
    }
    std::vector<int64_t> kernel = SpatialDims(w.shape);
    if (!attrs_.kernel_shape.empty() && attrs_.kernel_shape != kernel) {
      return InvalidArgument("kernel_shape {} does not match W {}", ShapeToString(attrs_.kernel_shape),
                             ShapeToString(w.shape));
    }
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

    PlanWork(ctx.num_threads());
    ctx.request_scratch(static_cast<size_t>(col_floats_) * (mode_ == Mode::kUnits ? threads_ : 1) * sizeof(float));
    return Status::Ok();
  }

  Status Compute(KernelContext& ctx) override {
    const float* x = ctx.input(0).as<float>();
    const float* w = ctx.input(1).as<float>();
    const float* bias = has_bias_ ? ctx.input(2).as<float>() : nullptr;
    float* y = ctx.output(0).as<float>();
    const int64_t out_size = g_.out_size();
    if (n_ == 0 || m_ == 0 || out_size == 0) return Status::Ok();
    int threads = std::max(1, ctx.num_threads());
    Mode mode = mode_;
    if (mode == Mode::kUnits) {
      threads = std::min(threads, threads_);  // one column buffer per thread was planned
    } else if (mode == Mode::kSerial && threads > 1) {
      mode = Mode::kShared;  // planned for fewer threads than we have: share the one column buffer
    }
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
    const int64_t units = n_ * group_ * num_tiles_;
    if (mode == Mode::kShared && threads > 1) {
      ComputeShared(x, w, bias, y, scratch, threads);
    } else if (mode == Mode::kUnits && threads > 1) {
      // OpenBLAS runs single-threaded inside a parallel region, so each thread owns whole units. Threads take
      // units as they go rather than in fixed shares, so a thread that loses its core to another process
      // does not hold the others back.
      std::atomic<int64_t> next{0};
#pragma omp parallel num_threads(threads)
      {
        float* col = scratch + col_floats_ * omp_get_thread_num();
        for (int64_t u = next.fetch_add(1); u < units; u = next.fetch_add(1))
          RunUnit(u, x, w, bias, y, col, 0, mg_, true);
      }
    } else {
      for (int64_t u = 0; u < units; ++u) RunUnit(u, x, w, bias, y, scratch, 0, mg_, true);
    }
    return Status::Ok();
  }

 private:
  enum class Mode {
    kSerial,  // one thread does everything
    kUnits,   // threads take whole (image, group, column tile) units, each with its own column buffer
    kShared,  // all threads work on one unit at a time: im2col by rows, then the GEMM by output channels
  };

  // Chooses the column tiling and how threads share the work.
  void PlanWork(int threads) {
    const int64_t out_size = g_.out_size();
    threads_ = std::max(1, threads);
    // Tiles whose column matrix fits in L2.
    int64_t tiles = 1;
    if (!pointwise_ && kg_ * out_size * 4 > kColTileBytes) {
      const int64_t cols = std::max(kMinTileCols, kColTileBytes / (4 * kg_));
      tiles = (out_size + cols - 1) / cols;
    }
    const int64_t images = n_ * group_;
    auto balanced = [&](int64_t units) {
      return units >= threads_ && (units % threads_ == 0 || units >= 4 * threads_);
    };
    mode_ = Mode::kSerial;
    if (threads_ > 1) {
      if (balanced(images * tiles)) {
        mode_ = Mode::kUnits;
      } else if (out_size >= threads_ * kMinTileCols) {
        // Enough columns: cut them finer until the units spread evenly (a multiple of threads_ always does).
        while (!balanced(images * tiles)) ++tiles;
        mode_ = Mode::kUnits;
      } else {
        // Few columns (late, small feature maps at small batch): splitting output channels keeps each GEMM
        // wide and packs each weight row once.
        mode_ = Mode::kShared;
      }
    }
    num_tiles_ = std::min(tiles, std::max<int64_t>(out_size, 1));
    const int64_t max_cols = (out_size + num_tiles_ - 1) / num_tiles_;
    col_floats_ = (pointwise_ || direct_) ? 0 : kg_ * max_cols;
  }

  // Columns [p0, p1) of tile t: an even integer partition of the output positions.
  void TileRange(int64_t t, int64_t* p0, int64_t* p1) const {
    const int64_t out_size = g_.out_size();
    *p0 = out_size * t / num_tiles_;
    *p1 = out_size * (t + 1) / num_tiles_;
  }

  // One (image, group, column tile) unit: im2col (unless done already or pointwise), then GEMM and epilogue for
  // output channels [m0, m1) of the group.
  void RunUnit(int64_t u, const float* x, const float* w, const float* bias, float* y, float* col, int64_t m0,
               int64_t m1, bool im2col) const {
    const int64_t out_size = g_.out_size();
    const int64_t tile = u % num_tiles_;
    const int64_t grp = (u / num_tiles_) % group_;
    const int64_t n = u / (num_tiles_ * group_);
    int64_t p0, p1;
    TileRange(tile, &p0, &p1);
    const int64_t cols = p1 - p0;
    const float* xg = x + (n * c_ + grp * cg_) * g_.in_size();
    float* yg = y + (n * m_ + grp * mg_) * out_size;
    const float* b_mat = col;
    int64_t ldb = cols;
    if (pointwise_) {
      b_mat = xg + p0;
      ldb = out_size;
    } else if (im2col) {
      Im2ColRows(xg, g_, 0, kg_, p0, p1, col);
    }
    if (m1 <= m0 || cols == 0) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m1 - m0), static_cast<int>(cols),
                static_cast<int>(kg_), 1.f, w + (grp * mg_ + m0) * kg_, static_cast<int>(kg_), b_mat,
                static_cast<int>(ldb), 0.f, yg + m0 * out_size + p0, static_cast<int>(out_size));
    BiasActivation(yg + m0 * out_size + p0, m1 - m0, cols, out_size, bias != nullptr ? bias + grp * mg_ + m0 : nullptr,
                   act_);
  }

  // Mode::kShared: one parallel region for the whole conv; threads meet at a barrier after each im2col and
  // after each GEMM (before the column buffer is overwritten).
  void ComputeShared(const float* x, const float* w, const float* bias, float* y, float* col, int threads) const {
    const int64_t units = n_ * group_ * num_tiles_;
#pragma omp parallel num_threads(threads)
    {
      const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
      // Output-channel blocks in multiples of 16, the GEMM micro-kernel's row count.
      const int64_t mblk = ((mg_ + nt - 1) / nt + 15) / 16 * 16;
      const int64_t m0 = std::min(mg_, tid * mblk), m1 = std::min(mg_, m0 + mblk);
      for (int64_t u = 0; u < units; ++u) {
        if (!pointwise_) {
          const int64_t tile = u % num_tiles_, grp = (u / num_tiles_) % group_, n = u / (num_tiles_ * group_);
          int64_t p0, p1;
          TileRange(tile, &p0, &p1);
          const int64_t r0 = kg_ * tid / nt, r1 = kg_ * (tid + 1) / nt;
          Im2ColRows(x + (n * c_ + grp * cg_) * g_.in_size(), g_, r0, r1, p0, p1, col);
#pragma omp barrier
        }
        RunUnit(u, x, w, bias, y, col, m0, m1, /*im2col=*/false);
        if (!pointwise_) {
#pragma omp barrier
        }
      }
    }
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
  Mode mode_ = Mode::kSerial;
  int64_t num_tiles_ = 1;
  int threads_ = 1;
  int64_t col_floats_ = 0;
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
