// Tensor and TensorView, part of the public interface (the server facade's requests and replies carry them).
//
// NOTE: for now this only forwards to src/common/tensor.h, which is being changed on another branch; after that
// merges, tensor.h moves here (git mv, as status.h and dtype.h did) and src/common/tensor.h becomes the forward.
// Code outside src/common includes "ferry/tensor.h" already, so the move changes no includer.
#pragma once

#include "common/tensor.h"
