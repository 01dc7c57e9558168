#include "kernels/cpu/broadcast.h"

namespace ferry::cpu {

Result<Shape> MultiBroadcastShape(const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    // out[d] stays 1 until an input has a dim other than 1 there; then every other input must match it.
    for (size_t k = 0; k < shapes.size(); ++k) {
      const Shape& s = shapes[k];
      if (d + s.size() < rank) continue;
      int64_t dim = s[d + s.size() - rank];
      if (dim < 0) return InvalidArgument("input {} has a negative dimension: {}", k, ShapeToString(s));
      if (dim == 1) continue;
      if (out[d] == 1) {
        out[d] = dim;
      } else if (out[d] != dim) {
        std::string all;
        for (const Shape& t : shapes) all += (all.empty() ? "" : " and ") + ShapeToString(t);
        return InvalidArgument("shapes {} cannot be broadcast together", all);
      }
    }
  }
  return out;
}

Result<MultiBroadcastPlan> MakeMultiBroadcastPlan(const std::vector<Shape>& inputs, const Shape& out) {
  const int n = static_cast<int>(inputs.size());
  if (n < 1 || n > kMaxBroadcastInputs) return Internal("broadcast plan for {} inputs", n);
  const size_t rank = out.size();
  for (int k = 0; k < n; ++k) {
    const Shape& s = inputs[k];
    bool ok = s.size() <= rank;
    for (size_t i = 0; ok && i < s.size(); ++i) {
      int64_t dim = s[i];
      ok = dim == 1 || dim == out[rank - s.size() + i];
    }
    if (!ok) {
      return InvalidArgument("input {} of shape {} does not broadcast to {}", k, ShapeToString(s), ShapeToString(out));
    }
  }

  // Dims of extent 1 in the output carry no iteration; the rest are merged while every input's
  // "repeats here" bit stays the same.
  struct Dim {
    int64_t size;
    unsigned repeat_mask;
  };
  std::vector<Dim> dims;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    unsigned mask = 0;
    for (int k = 0; k < n; ++k) {
      const Shape& s = inputs[k];
      bool repeats = d + s.size() < rank || s[d + s.size() - rank] == 1;
      if (repeats) mask |= 1u << k;
    }
    if (!dims.empty() && dims.back().repeat_mask == mask) {
      dims.back().size *= out[d];
    } else {
      dims.push_back({out[d], mask});
    }
  }

  MultiBroadcastPlan plan;
  plan.num_inputs = n;
  plan.total = NumElements(out);
  if (dims.empty()) {
    // Every input holds one element.
    plan.row = 1;
    for (int k = 0; k < n; ++k) plan.row_stride[k] = 1;
    return plan;
  }
  std::vector<std::array<int64_t, kMaxBroadcastInputs>> strides(dims.size());
  for (int k = 0; k < n; ++k) {
    int64_t stride = 1;
    for (size_t j = dims.size(); j-- > 0;) {
      if (dims[j].repeat_mask & (1u << k)) {
        strides[j][k] = 0;
      } else {
        strides[j][k] = stride;
        stride *= dims[j].size;
      }
    }
  }
  plan.row = dims.back().size;
  plan.row_stride = strides.back();
  for (size_t j = 0; j + 1 < dims.size(); ++j) {
    plan.outer_dims.push_back(dims[j].size);
    plan.outer_strides.push_back(strides[j]);
  }
  return plan;
}

BinaryBroadcastSpec BinaryBroadcastSpec::FromDef(const KernelDef& def) {
  BinaryBroadcastSpec spec;
  spec.legacy = def.opset < 7;
  spec.legacy_broadcast = def.attrs.Int("broadcast", 0) != 0;
  spec.has_axis = def.attrs.Has("axis");
  spec.axis = def.attrs.Int("axis", 0);
  return spec;
}

Status BinaryBroadcastSpec::Plan(const Shape& a, const Shape& b, Shape* out, MultiBroadcastPlan* plan) const {
  Shape b_eff = b;
  if (legacy && legacy_broadcast && has_axis) {
    const int64_t rank = static_cast<int64_t>(a.size());
    int64_t axis_eff = axis < 0 ? axis + rank : axis;
    if (axis_eff < 0 || axis_eff + static_cast<int64_t>(b.size()) > rank) {
      return InvalidArgument("axis {} does not place B of shape {} inside A of shape {}", axis, ShapeToString(b),
                             ShapeToString(a));
    }
    b_eff.resize(static_cast<size_t>(rank - axis_eff), 1);
  }
  FERRY_ASSIGN_OR_RETURN(*out, MultiBroadcastShape({a, b_eff}));
  if (legacy && legacy_broadcast && *out != a) {
    return InvalidArgument("B of shape {} does not broadcast onto A of shape {}", ShapeToString(b), ShapeToString(a));
  }
  FERRY_ASSIGN_OR_RETURN(*plan, MakeMultiBroadcastPlan({a, b_eff}, *out));
  return Status::Ok();
}

}  // namespace ferry::cpu
