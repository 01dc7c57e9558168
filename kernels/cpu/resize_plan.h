// The sampling plan of Resize and Upsample: for each axis, which input positions (and with what weights) each
// output position reads. Resize is separable, so an N-D resize is one such table per axis.
//
// The tables follow the ONNX reference implementation (onnx/backend/test/case/node/resize.py) to the letter,
// in double precision: the coordinate transform maps an output index to x_original; linear uses the two
// neighbours floor(x), floor(x) + 1 and cubic the four floor(x) - 1 .. floor(x) + 2, where an integral x counts
// as the right neighbour of x - 1 (ratio 1); neighbours outside the input read the edge element, except that
// exclude_outside drops them and renormalizes the weights; tf_crop_and_resize writes extrapolation_value when
// x_original falls outside [0, length - 1].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry::cpu::resize {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfHalfPixelForNn, kTfCropAndResize };
// kLegacy is Upsample's and Resize-10's rule (as ONNX Runtime runs them): floor when upsampling the axis,
// ceil when downsampling.
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kLegacy };

struct Options {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

Status ParseMode(const std::string& s, Mode* out);
Status ParseCoord(const std::string& s, int opset, Coord* out);
Status ParseNearestMode(const std::string& s, NearestMode* out);

struct AxisPlan {
  int64_t in = 0;
  int64_t out = 0;
  int taps = 1;                  // weights per output position: 1 (nearest), 2 (linear) or 4 (cubic)
  std::vector<int64_t> index;    // out * taps input positions, each in [0, in)
  std::vector<double> weight;    // out * taps
  std::vector<uint8_t> outside;  // out flags: write the extrapolation value (tf_crop_and_resize only)
  bool identity = false;         // out == in and output position i reads exactly input position i
};

// Builds one axis. scale is the axis' scale (out / in when sizes were given); length_resized is the output
// length the coordinate transforms use (the reference uses in * scale, not the floored output length, when
// scales were given); roi_start/roi_end are used by tf_crop_and_resize only.
// REQUIRES: in > 0, out >= 0, scale > 0.
AxisPlan BuildAxisPlan(const Options& o, int64_t in, int64_t out, double scale, double length_resized, double roi_start,
                       double roi_end);

}  // namespace ferry::cpu::resize
