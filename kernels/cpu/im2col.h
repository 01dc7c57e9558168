// The column-matrix transforms behind GEMM-based convolution.
//
// For one image (or one group of channels) x of shape [C, g.in...], the column matrix has one row per
// (channel, kernel offset) pair, r = c * g.kernel_size() + ((kd * KH) + kh) * KW + kw, and one column per
// output position p (row-major over g.out). Entry (r, p) is the input element under kernel offset r's tap
// when the window sits at output position p, or 0 where the tap falls in the padding.
#pragma once

#include <cstdint>

#include "kernels/cpu/conv_attrs.h"

namespace ferry::cpu {

// Writes rows [row0, row1) and columns [p0, p1) of the column matrix of x into col; row r goes to col + r * ld
// (ld >= p1 - p0), so threads can fill disjoint row ranges of one buffer, or several images share one matrix.
// REQUIRES: 0 <= p0 <= p1 <= g.out_size(), rows within [0, C * g.kernel_size()).
void Im2ColRows(const float* x, const WindowGeometry& g, int64_t row0, int64_t row1, int64_t p0, int64_t p1, float* col,
                int64_t ld);

// The same, with row r going to col + (r - row0) * ld: the block of rows [row0, row1) from col on.
void Im2ColBlock(const float* x, const WindowGeometry& g, int64_t row0, int64_t row1, int64_t p0, int64_t p1,
                 float* col, int64_t ld);

// The adjoint of Im2ColRows over whole images: adds every column-matrix entry of channels [c0, c1) onto the
// input element it was read from (padding taps are dropped). col has C * g.kernel_size() rows of
// g.out_size() columns; y has shape [C, g.in...].
void Col2ImAddChannels(const float* col, const WindowGeometry& g, int64_t c0, int64_t c1, float* y);

}  // namespace ferry::cpu
