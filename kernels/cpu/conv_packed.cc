#include "kernels/cpu/conv_packed.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/tensor.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/conv_gemm.h"
#include "kernels/cpu/gemm_packed.h"
#include "kernels/cpu/im2col.h"
#include "kernels/kernel.h"

namespace ferry::cpu {
namespace {

// A new packed copy of w, owned by the caller; nullptr on allocation failure.
std::shared_ptr<const float> PackConvWeights(const float* w, int64_t group, int64_t mg, int64_t kg, bool transposed) {
  const size_t per_group = ConvPackedWeightFloatsPerGroup(mg, kg, transposed);
  std::shared_ptr<void> data = AllocateAligned(per_group * group * sizeof(float));
  if (!data) return nullptr;
  float* dst = static_cast<float*>(data.get());
  for (int64_t grp = 0; grp < group; ++grp) {
    const float* wg = w + grp * mg * kg;
    if (transposed) {
      PackedMatrix::PackInto(wg, kg, mg, kg, /*trans=*/true, dst + grp * per_group);
    } else {
      ConvPackWeights(wg, mg, kg, dst + grp * per_group);
    }
  }
  return std::shared_ptr<const float>(data, dst);  // aliases the aligned allocation
}

// Output positions [q0, q0 + cols) of ConvRunUnitTransposed; cols <= kConvTransposedMaxCols.
void TransposedChunk(const ConvPackedPlan& p, int64_t grp, int64_t q0, int64_t cols, int64_t m0, int64_t m1,
                     const float* xg, const float* bias, float* yg, float* buf) {
  const int64_t out_size = p.g.out_size(), in_size = p.g.in_size(), rows = m1 - m0, kg = p.kg;
  float* colt = buf;                                         // [cols, kg]
  float* yt = colt + kConvTransposedMaxCols * kg;            // [cols, rows]
  float* row = yt + kConvTransposedMaxCols * p.mblock_rows;  // im2col rows on their way into colt
  const int64_t chunk = std::max<int64_t>(1, std::min(kg, kConvRowBufFloats / cols));
  for (int64_t r0 = 0; r0 < kg; r0 += chunk) {
    const int64_t r1 = std::min(kg, r0 + chunk);
    if (p.pointwise) {
      for (int64_t r = r0; r < r1; ++r) std::memcpy(row + (r - r0) * cols, xg + r * in_size + q0, cols * sizeof(float));
    } else {
      Im2ColBlock(xg, p.g, r0, r1, q0, q0 + cols, row, cols);
    }
    for (int64_t j = 0; j < cols; ++j) {
      float* dst = colt + j * kg;
      for (int64_t r = r0; r < r1; ++r) dst[r] = row[(r - r0) * cols + j];
    }
  }
  const float* wt = p.weights + grp * p.weight_floats_per_group + m0 * kg;
  PackedMatrix::MultiplyPacked(wt, kg, rows, colt, cols, kg, yt, rows, /*accumulate=*/false, /*threads=*/1);
  for (int64_t m = 0; m < rows; ++m) {
    float* dst = yg + m * out_size + q0;
    for (int64_t j = 0; j < cols; ++j) dst[j] = yt[j * rows + m];
  }
  BiasActivation(yg + q0, rows, cols, out_size, bias != nullptr ? bias + grp * p.mg + m0 : nullptr, p.act);
}

}  // namespace

size_t ConvPackedWeightFloatsPerGroup(int64_t mg, int64_t kg, bool transposed) {
  return transposed ? PackedMatrix::PackedFloats(kg, mg) : ConvPackedWeightFloats(mg, kg);
}

std::string ConvPackedLayout(int64_t group, int64_t mg, int64_t kg, bool transposed) {
  // The panel size of the layout: ConvGemm's row panels, or PackedMatrix's column panels when transposed.
  const std::string panel =
      transposed ? " nr=" + std::to_string(PackedMatrix::PanelWidth()) : " mr=" + std::to_string(kConvMr);
  return "conv-packed g=" + std::to_string(group) + " m=" + std::to_string(mg) + " k=" + std::to_string(kg) +
         " t=" + std::to_string(transposed ? 1 : 0) + panel;
}

std::shared_ptr<const float> GetConvPackedWeights(DerivedConstants* derived, size_t input, const float* w,
                                                  int64_t group, int64_t mg, int64_t kg, bool transposed) {
  if (derived == nullptr) return PackConvWeights(w, group, mg, kg, transposed);
  return std::static_pointer_cast<const float>(derived->GetOrMake(
      input, ConvPackedLayout(group, mg, kg, transposed),
      [&]() -> std::shared_ptr<const void> { return PackConvWeights(w, group, mg, kg, transposed); }));
}

void ConvRunUnitTransposed(const ConvPackedPlan& p, int64_t grp, int64_t p0, int64_t cols, int64_t m0, int64_t m1,
                           const float* xg, const float* bias, float* yg, float* buf) {
  const int64_t chunks = (cols + kConvTransposedMaxCols - 1) / kConvTransposedMaxCols;
  // Equal chunks, in whole 12-row blocks of the micro-kernel where possible.
  const int64_t chunk_cols = std::min(kConvTransposedMaxCols, ((cols + chunks - 1) / chunks + 11) / 12 * 12);
  for (int64_t q0 = p0; q0 < p0 + cols; q0 += chunk_cols) {
    TransposedChunk(p, grp, q0, std::min(chunk_cols, p0 + cols - q0), m0, m1, xg, bias, yg, buf);
  }
}

void ConvRunUnitPacked(const ConvPackedPlan& p, int64_t grp, int64_t n0, int64_t nimg, int64_t p0, int64_t cols,
                       int64_t m0, int64_t m1, const float* xg, const float* bias, float* y, float* buf) {
  const int64_t out_size = p.g.out_size(), in_size = p.g.in_size(), kg = p.kg, bcols = p.block_cols;
  float* packed = buf;
  float* row = buf + ConvPackedColFloats(kg, bcols);
  const float* wp = p.weights + grp * p.weight_floats_per_group + m0 * kg;
  const float* bg = bias != nullptr ? bias + grp * p.mg + m0 : nullptr;
  float* yg = y + (n0 * p.m + grp * p.mg + m0) * out_size;
  float* out = nimg > 1 ? buf + p.col_floats : yg + p0;
  const int64_t ldc = nimg > 1 ? cols : out_size;
  for (int64_t j0 = 0; j0 < cols; j0 += bcols) {
    const int64_t j1 = std::min(cols, j0 + bcols), bc = j1 - j0;
    ConvPackZeroTail(kg, bc, packed);
    if (p.pointwise && nimg == 1) {
      for (int64_t r = 0; r < kg; ++r) ConvPackColRow(xg + r * in_size + p0 + j0, r, kg, bc, packed);
    } else {
      // Rows go through im2col a few at a time (enough to fill the row buffer), which spreads its
      // per-call setup over several rows.
      const int64_t chunk = std::max<int64_t>(1, std::min(kg, kConvRowBufFloats / bc));
      for (int64_t r0 = 0; r0 < kg; r0 += chunk) {
        const int64_t r1 = std::min(kg, r0 + chunk);
        for (int64_t j = j0; j < j1;) {  // one run of columns per image
          const int64_t i = nimg > 1 ? j / out_size : 0;
          const int64_t pos = nimg > 1 ? j % out_size : p0 + j;
          const int64_t len = nimg > 1 ? std::min(j1 - j, out_size - pos) : j1 - j;
          const float* xi = xg + i * p.c * in_size;
          if (p.pointwise) {
            for (int64_t r = r0; r < r1; ++r) {
              std::memcpy(row + (r - r0) * bc + (j - j0), xi + r * in_size + pos, len * sizeof(float));
            }
          } else {
            Im2ColBlock(xi, p.g, r0, r1, pos, pos + len, row + (j - j0), bc);
          }
          j += len;
        }
        for (int64_t r = r0; r < r1; ++r) ConvPackColRow(row + (r - r0) * bc, r, kg, bc, packed);
      }
    }
    ConvGemm(wp, m1 - m0, kg, packed, bc, out + j0, ldc);
    if (nimg == 1) BiasActivation(out + j0, m1 - m0, bc, ldc, bg, p.act);
  }
  if (nimg == 1) return;
  for (int64_t i = 0; i < nimg; ++i) {
    float* yi = yg + i * p.m * out_size;
    for (int64_t r = 0; r < m1 - m0; ++r)
      std::memcpy(yi + r * out_size, out + r * cols + i * out_size, out_size * sizeof(float));
    BiasActivation(yi, m1 - m0, out_size, out_size, bg, p.act);
  }
}

}  // namespace ferry::cpu
