// DataType is public: see include/ferry/dtype.h. This forward keeps "common/dtype.h" working for the modules that
// still include it by its old path (kernels, backends, graph, common/tensor.h); new code includes "ferry/dtype.h".
#pragma once

#include "ferry/dtype.h"
