#include "kernels/cpu/resize_plan.h"

#include <algorithm>
#include <cmath>

namespace ferry::cpu::resize {

Status ParseMode(const std::string& s, Mode* out) {
  if (s == "nearest") {
    *out = Mode::kNearest;
  } else if (s == "linear" || s == "bilinear") {  // Upsample-7 era exporters wrote "bilinear"
    *out = Mode::kLinear;
  } else if (s == "cubic") {
    *out = Mode::kCubic;
  } else {
    return Unimplemented("mode \"{}\" is not supported", s);
  }
  return Status::Ok();
}

Status ParseCoord(const std::string& s, int opset, Coord* out) {
  if (s == "half_pixel") {
    *out = Coord::kHalfPixel;
  } else if (s == "pytorch_half_pixel") {
    *out = Coord::kPytorchHalfPixel;
  } else if (s == "align_corners") {
    *out = Coord::kAlignCorners;
  } else if (s == "asymmetric") {
    *out = Coord::kAsymmetric;
  } else if (s == "tf_half_pixel_for_nn" && opset < 13) {
    *out = Coord::kTfHalfPixelForNn;
  } else if (s == "tf_crop_and_resize") {
    *out = Coord::kTfCropAndResize;
  } else {
    return Unimplemented("coordinate_transformation_mode \"{}\" is not supported", s);
  }
  return Status::Ok();
}

Status ParseNearestMode(const std::string& s, NearestMode* out) {
  if (s == "round_prefer_floor") {
    *out = NearestMode::kRoundPreferFloor;
  } else if (s == "round_prefer_ceil") {
    *out = NearestMode::kRoundPreferCeil;
  } else if (s == "floor") {
    *out = NearestMode::kFloor;
  } else if (s == "ceil") {
    *out = NearestMode::kCeil;
  } else {
    return Unimplemented("nearest_mode \"{}\" is not supported", s);
  }
  return Status::Ok();
}

namespace {

// x_original for output position x; sets *outside for tf_crop_and_resize positions outside the input.
double Original(const Options& o, double x, double scale, double lr, int64_t in, double r0, double r1, bool* outside) {
  *outside = false;
  switch (o.coord) {
    case Coord::kHalfPixel:
      return (x + 0.5) / scale - 0.5;
    case Coord::kPytorchHalfPixel:
      return lr > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case Coord::kAlignCorners:
      return lr == 1 ? 0.0 : x * static_cast<double>(in - 1) / (lr - 1);
    case Coord::kAsymmetric:
      return x / scale;
    case Coord::kTfHalfPixelForNn:
      return (x + 0.5) / scale;
    case Coord::kTfCropAndResize: {
      const double len = static_cast<double>(in - 1);
      const double v = lr > 1 ? r0 * len + x * (r1 - r0) * len / (lr - 1) : 0.5 * (r0 + r1) * len;
      *outside = v < 0 || v > len;
      return v;
    }
  }
  return 0.0;
}

int64_t Clamp(int64_t i, int64_t in) { return i < 0 ? 0 : (i >= in ? in - 1 : i); }

// Floor as int64, saturated far outside any tensor so the clamp below stays defined.
int64_t FloorToInt(double v) {
  const double f = std::floor(v);
  if (f < -(1LL << 40)) return -(1LL << 40);
  if (f > (1LL << 40)) return 1LL << 40;
  return static_cast<int64_t>(f);
}

int64_t NearestIndex(const Options& o, double x, double scale) {
  const int64_t f = FloorToInt(x);
  if (o.nearest == NearestMode::kLegacy) return scale < 1 ? FloorToInt(std::ceil(x)) : f;
  if (static_cast<double>(f) == x) return f;
  const double r = x - static_cast<double>(f);
  switch (o.nearest) {
    case NearestMode::kRoundPreferFloor:
      return r <= 0.5 ? f : f + 1;
    case NearestMode::kRoundPreferCeil:
      return r < 0.5 ? f : f + 1;
    case NearestMode::kFloor:
      return f;
    case NearestMode::kCeil:
      return f + 1;
    case NearestMode::kLegacy:
      break;
  }
  return f;
}

}  // namespace

AxisPlan BuildAxisPlan(const Options& o, int64_t in, int64_t out, double scale, double lr, double r0, double r1) {
  AxisPlan p;
  p.in = in;
  p.out = out;
  p.taps = o.mode == Mode::kNearest ? 1 : (o.mode == Mode::kLinear ? 2 : 4);
  p.index.resize(static_cast<size_t>(out * p.taps));
  p.weight.resize(static_cast<size_t>(out * p.taps));
  p.outside.assign(static_cast<size_t>(out), 0);
  bool identity = out == in;
  for (int64_t j = 0; j < out; ++j) {
    bool outside = false;
    const double x = Original(o, static_cast<double>(j), scale, lr, in, r0, r1, &outside);
    p.outside[j] = outside ? 1 : 0;
    int64_t* idx = &p.index[j * p.taps];
    double* w = &p.weight[j * p.taps];
    if (outside) {
      identity = false;
      for (int t = 0; t < p.taps; ++t) {
        idx[t] = 0;
        w[t] = 0;
      }
      continue;
    }
    if (o.mode == Mode::kNearest) {
      idx[0] = Clamp(NearestIndex(o, x, scale), in);
      w[0] = 1;
      identity = identity && idx[0] == j;
      continue;
    }
    // Left neighbour and ratio in (0, 1]: an integral x is the right neighbour of x - 1.
    int64_t left = FloorToInt(x);
    double r = x - static_cast<double>(left);
    if (r == 0) {
      left -= 1;
      r = 1;
    }
    int64_t raw[4];
    if (o.mode == Mode::kLinear) {
      raw[0] = left;
      raw[1] = left + 1;
      w[0] = 1 - r;
      w[1] = r;
    } else {
      const double a = o.cubic_a, s = 1 - r;
      w[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
      w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
      w[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
      w[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
      for (int t = 0; t < 4; ++t) raw[t] = left - 1 + t;
    }
    if (o.exclude_outside) {
      double sum = 0;
      for (int t = 0; t < p.taps; ++t) {
        if (raw[t] < 0 || raw[t] >= in) w[t] = 0;
        sum += w[t];
      }
      if (sum != 0) {
        for (int t = 0; t < p.taps; ++t) w[t] /= sum;
      }
    }
    for (int t = 0; t < p.taps; ++t) {
      idx[t] = Clamp(raw[t], in);
      // Identity: all weight on input position j.
      if (w[t] != 0 && (idx[t] != j || w[t] != 1)) identity = false;
    }
  }
  p.identity = identity;
  return p;
}

}  // namespace ferry::cpu::resize
