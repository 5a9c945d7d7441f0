// strata/core/host_device.hpp: marks element-wise math that both backends compile.
//
// STRATA_HOST_DEVICE expands to `__host__ __device__` under nvcc and to nothing elsewhere, so
// the CPU tests exercise exactly the per-element code the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define STRATA_HOST_DEVICE __host__ __device__
#else
#define STRATA_HOST_DEVICE
#endif
