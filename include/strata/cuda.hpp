// strata/cuda.hpp: strata with the NVIDIA GPU backend, strata::Cuda.
//
//   #include <strata/cuda.hpp>
//   strata::Model<Net, strata::Cuda> model{/*max_batch=*/64, /*seed=*/1};
//
// Everything <strata/strata.hpp> declares except the CPU backend (include both to have both),
// plus strata::Cuda. This header holds CUDA kernels, so a file that includes it must be
// compiled by nvcc as CUDA (a .cu file, or LANGUAGE CUDA in CMake) and linked with
// strata::cuda (CUDA runtime and cuDNN 9). <strata/strata.hpp> alone never needs either.
#pragma once

#if !defined(__CUDACC__)
#error "<strata/cuda.hpp> holds CUDA kernels: compile this file with nvcc (name it .cu, or set its LANGUAGE to CUDA) and link strata::cuda; CPU-only code includes <strata/strata.hpp>"
#endif

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
#include "strata/backend/cuda/cuda.hpp"
