// Conv's packed-GEMM paths: the weights packed once per model and device, and the units of work that multiply
// by them.
//
// Plans are made per input signature and per worker, and each holds its own Conv kernels; packing the weights
// per kernel would keep one copy of every weight per plan (+45 MB for a ResNet-18). GetConvPackedWeights hands
// the packing to the kernel's DerivedConstants (KernelContext::derived()), which keys it by the graph value
// feeding W plus ConvPackedLayout(), so every plan of a model on one device shares one copy (kept in the model's
// weight store for that device, see kernel.h; each kernel holds a handle), as PackedMatrix::Get does for
// Gemm/MatMul. Without DerivedConstants (folding, kernels run directly by tests) the copy is the kernel's own.
// Nothing is keyed by address, so weights that a new model allocates where an old model's were never meet the
// old packing.
//
// Thread safety: GetConvPackedWeights is as thread-safe as the DerivedConstants it is given (the graph layer's
// is); the packed weights are immutable once returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/cpu/activation.h"
#include "kernels/cpu/conv_attrs.h"

namespace ferry {
class DerivedConstants;
}  // namespace ferry

namespace ferry::cpu {

// Row buffer of the packed paths (floats): im2col output on its way to the packed layout, kept within L1.
constexpr int64_t kConvRowBufFloats = 6144;
// Units of at most this many output positions run transposed (ConvRunUnitTransposed).
constexpr int64_t kConvTransposedMaxCols = 256;

// Floats of one group's packed weights: ConvPackWeights' layout for ConvGemm or, when transposed, PackedMatrix's
// layout of W^T ([kg, mg]).
size_t ConvPackedWeightFloatsPerGroup(int64_t mg, int64_t kg, bool transposed);

// The weights w ([group * mg, kg] row-major, known input `input` of the calling kernel) packed group by group
// (ConvPackedWeightFloatsPerGroup floats each): shared through `derived` under ConvPackedLayout(), or packed for
// the caller alone when `derived` is nullptr. nullptr on allocation failure.
// REQUIRES: ConvGemmAvailable() and PackedMatrix::Available(); w is valid for the call (the result does not keep
// it).
std::shared_ptr<const float> GetConvPackedWeights(DerivedConstants* derived, size_t input, const float* w,
                                                  int64_t group, int64_t mg, int64_t kg, bool transposed);

// The DerivedConstants layout of GetConvPackedWeights: every parameter that changes the packed bytes
// ("conv-packed g=1 m=64 k=576 t=0 mr=8").
std::string ConvPackedLayout(int64_t group, int64_t mg, int64_t kg, bool transposed);

// What the packed unit paths need of a Conv's plan.
struct ConvPackedPlan {
  WindowGeometry g;
  int64_t c = 0, m = 0, mg = 0, kg = 0;
  bool pointwise = false;
  int64_t block_cols = 0;   // column block width of ConvRunUnitPacked
  int64_t col_floats = 0;   // offset of the GEMM result in buf when a unit holds several images
  int64_t mblock_rows = 0;  // output-channel rows reserved in buf by ConvRunUnitTransposed
  Activation act;
  const float* weights = nullptr;  // from GetConvPackedWeights
  size_t weight_floats_per_group = 0;
};

// A unit with the packed GEMM: the unit's columns go a block at a time through im2col straight into the
// packed layout, then every output channel of the unit is multiplied by the block while it is in L2.
void ConvRunUnitPacked(const ConvPackedPlan& p, int64_t grp, int64_t n0, int64_t nimg, int64_t p0, int64_t cols,
                       int64_t m0, int64_t m1, const float* xg, const float* bias, float* y, float* buf);

// A unit for small maps (few output positions, many channels: the last stages of ResNet-style networks), as
// Y^T = Col^T * W^T: the vectors then run along output channels, which fill them, where output positions
// (7 x 7 = 49 of them, say) would leave a panel of 32 mostly empty. yg is the unit's first output channel.
void ConvRunUnitTransposed(const ConvPackedPlan& p, int64_t grp, int64_t p0, int64_t cols, int64_t m0, int64_t m1,
                           const float* xg, const float* bias, float* yg, float* buf);

}  // namespace ferry::cpu
