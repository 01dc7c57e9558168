#include "kernels/cpu/im2col.h"

#include <algorithm>
#include <cstring>

namespace ferry::cpu {
namespace {

// Number of j in [0, n) with lo <= base + j * step < hi, as the range [*j0, *j1). REQUIRES: step >= 1.
inline void ValidRange(int64_t base, int64_t step, int64_t lo, int64_t hi, int64_t n, int64_t* j0, int64_t* j1) {
  int64_t a = base >= lo ? 0 : (lo - base + step - 1) / step;
  int64_t b = base >= hi ? 0 : (hi - base + step - 1) / step;
  *j0 = std::min(a, n);
  *j1 = std::max(*j0, std::min(b, n));
}

// One row of the column matrix, columns [p0, p1), for the shifted_copy case of Im2ColRows.
void ShiftedRow(const float* xc, const WindowGeometry& g, int64_t kh, int64_t kw, int64_t p0, int64_t p1, float* dst) {
  const int64_t IH = g.in[1], W = g.in[2];
  const int64_t dh = kh * g.dilation[1] - g.pad_begin[1];  // ih = oh + dh
  const int64_t dw = kw * g.dilation[2] - g.pad_begin[2];  // iw = ow + dw
  // Output positions whose input row exists.
  const int64_t v0 = std::min(p1, std::max(p0, std::max<int64_t>(0, -dh) * W));
  const int64_t v1 = std::max(v0, std::min(p1, std::min(g.out[1], IH - dh) * W));
  // Within them, copy what lies inside the plane; the edge columns, which read the neighbouring row (or
  // nothing), are zeroed after.
  const int64_t shift = dh * W + dw;
  const int64_t c0 = std::min(v1, std::max(v0, -shift)), c1 = std::max(c0, std::min(v1, IH * W - shift));
  std::memset(dst, 0, (c0 - p0) * sizeof(float));
  if (c1 > c0) std::memcpy(dst + (c0 - p0), xc + c0 + shift, (c1 - c0) * sizeof(float));
  std::memset(dst + (c1 - p0), 0, (p1 - c1) * sizeof(float));
  int64_t j0, j1;  // valid output columns of a row
  ValidRange(dw, 1, 0, W, W, &j0, &j1);
  if (j0 == 0 && j1 == W) return;
  for (int64_t row_start = v0 - v0 % W; row_start < v1; row_start += W) {
    const int64_t a = std::max(row_start, v0), b = std::min(row_start + j0, v1);
    for (int64_t p = a; p < b; ++p) dst[p - p0] = 0.f;
    const int64_t e0 = std::max(row_start + j1, v0), e1 = std::min(row_start + W, v1);
    for (int64_t p = e0; p < e1; ++p) dst[p - p0] = 0.f;
  }
}

}  // namespace

void Im2ColRows(const float* x, const WindowGeometry& g, int64_t row0, int64_t row1, int64_t p0, int64_t p1, float* col,
                int64_t ld) {
  Im2ColBlock(x, g, row0, row1, p0, p1, col + row0 * ld, ld);
}

void Im2ColBlock(const float* x, const WindowGeometry& g, int64_t row0, int64_t row1, int64_t p0, int64_t p1,
                 float* col, int64_t ld) {
  if (p1 <= p0) return;
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2];
  const int64_t ksp = KD * KH * KW;
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
  const int64_t OH = g.out[1], OW = g.out[2];
  const int64_t sw = g.stride[2];
  const int64_t in_size = g.in_size();
  // Unit-stride 2-D windows whose output rows are as wide as the input rows: a kernel offset's row of the column
  // matrix is the input plane shifted by a constant, so one copy per row plus zeroing of the edge columns.
  const bool shifted_copy = KD == 1 && g.out[0] == 1 && g.stride[1] == 1 && sw == 1 && IW == OW;
  for (int64_t r = row0; r < row1; ++r) {
    const int64_t c = r / ksp, k = r % ksp;
    const int64_t kw = k % KW, kh = (k / KW) % KH, kd = k / (KW * KH);
    const float* xc = x + c * in_size;
    float* dst = col + (r - row0) * ld;
    if (shifted_copy) {
      ShiftedRow(xc, g, kh, kw, p0, p1, dst);
      continue;
    }
    // Output columns [fj0, fj1) of a whole output row read inside the input row; ow reads iw_base + ow * sw.
    const int64_t iw_base = kw * g.dilation[2] - g.pad_begin[2];
    int64_t fj0, fj1;
    ValidRange(iw_base, sw, 0, IW, OW, &fj0, &fj1);
    int64_t ow = p0 % OW, oh = (p0 / OW) % OH, od = p0 / (OW * OH);
    int64_t p = p0;
    while (p < p1) {
      const int64_t n = std::min(p1 - p, OW - ow);
      const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
      const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
      if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
        std::memset(dst, 0, n * sizeof(float));
      } else {
        const float* src = xc + (id * IH + ih) * IW;
        const int64_t iw0 = iw_base + ow * sw;
        const int64_t j0 = std::clamp<int64_t>(fj0 - ow, 0, n), j1 = std::clamp<int64_t>(fj1 - ow, j0, n);
        if (j0 > 0) std::memset(dst, 0, j0 * sizeof(float));
        if (sw == 1) {
          if (j1 > j0) std::memcpy(dst + j0, src + iw0 + j0, (j1 - j0) * sizeof(float));
        } else {
#pragma omp simd
          for (int64_t j = j0; j < j1; ++j) dst[j] = src[iw0 + j * sw];
        }
        if (j1 < n) std::memset(dst + j1, 0, (n - j1) * sizeof(float));
      }
      dst += n;
      p += n;
      ow = 0;
      if (++oh == OH) {
        oh = 0;
        ++od;
      }
    }
  }
}

void Col2ImAddChannels(const float* col, const WindowGeometry& g, int64_t c0, int64_t c1, float* y) {
  const int64_t KD = g.kernel[0], KH = g.kernel[1], KW = g.kernel[2];
  const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
  const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
  const int64_t sw = g.stride[2];
  const int64_t ld = g.out_size();
  for (int64_t c = c0; c < c1; ++c) {
    float* yc = y + c * g.in_size();
    for (int64_t kd = 0; kd < KD; ++kd) {
      for (int64_t kh = 0; kh < KH; ++kh) {
        for (int64_t kw = 0; kw < KW; ++kw) {
          const float* src = col + ((c * KD + kd) * KH * KW + kh * KW + kw) * ld;
          const int64_t iw0 = -g.pad_begin[2] + kw * g.dilation[2];
          int64_t j0, j1;
          ValidRange(iw0, sw, 0, IW, OW, &j0, &j1);
          for (int64_t od = 0; od < OD; ++od) {
            const int64_t id = od * g.stride[0] - g.pad_begin[0] + kd * g.dilation[0];
            if (id < 0 || id >= ID) continue;
            for (int64_t oh = 0; oh < OH; ++oh) {
              const int64_t ih = oh * g.stride[1] - g.pad_begin[1] + kh * g.dilation[1];
              if (ih < 0 || ih >= IH) continue;
              float* dst = yc + (id * IH + ih) * IW;
              const float* s = src + (od * OH + oh) * OW;
              for (int64_t j = j0; j < j1; ++j) dst[iw0 + j * sw] += s[j];
            }
          }
        }
      }
    }
  }
}

}  // namespace ferry::cpu
