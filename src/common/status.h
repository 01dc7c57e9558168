// Status and Result<T> are public: see include/ferry/status.h. This forward keeps "common/status.h" working for the
// modules that still include it by its old path (kernels, backends, graph, common/tensor.h); new code includes
// "ferry/status.h".
#pragma once

#include "ferry/status.h"
