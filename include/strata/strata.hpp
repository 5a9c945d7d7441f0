// strata/strata.hpp: the umbrella header. Everything a CPU user needs: shapes, Sequential,
// every layer, losses, optimizers, Model and the CPU backend. The CUDA backend is separate
// (<strata/cuda.hpp>), so this header never needs nvcc or CUDA headers.
#pragma once

#include "strata/version.hpp"

#include "strata/core/shape.hpp"
#include "strata/core/tensor.hpp"
#include "strata/layers.hpp"
#include "strata/losses/binary_cross_entropy.hpp"
#include "strata/losses/mean_squared_error.hpp"
#include "strata/model/model.hpp"
#include "strata/model/sequential.hpp"
#include "strata/optim/adam.hpp"
#include "strata/optim/sgd.hpp"
#include "strata/backend/cpu/cpu.hpp"
