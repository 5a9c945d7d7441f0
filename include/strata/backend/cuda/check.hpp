// strata/backend/cuda/check.hpp: every CUDA and cuDNN call is checked.
//
//   STRATA_CUDA_CHECK(cudaMalloc(&p, bytes));
//
// A failed call throws strata::DeviceError carrying the call's source text, the status's name
// and description, and what to do about the common ones; Model adds the layer that was running
// (core/device.hpp). A macro because it captures the call's text; the work is in check().
#pragma once

#include <string>

#include <cuda_runtime.h>
#include <cudnn.h>

#include "strata/core/device.hpp"

namespace strata::cuda {

inline std::string advice_for(cudaError_t status) {
  switch (status) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
      return "no usable CUDA device: check `nvidia-smi`, the driver version and CUDA_VISIBLE_DEVICES";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
      return "this program was not compiled for this GPU: set CMAKE_CUDA_ARCHITECTURES to its compute "
             "capability (90 for H100/H200) and rebuild";
    case cudaErrorMemoryAllocation:
      return "lower max_batch, or free GPU memory held by other processes";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
      return "a kernel faulted; the CUDA context is unusable: rerun with CUDA_LAUNCH_BLOCKING=1 and "
             "compute-sanitizer to find which";
    default:
      return {};
  }
}

inline std::string advice_for(cudnnStatus_t status) {
  switch (status) {
    case CUDNN_STATUS_NOT_INITIALIZED:
      return "cuDNN could not start: check that libcudnn*.so.9 are on the library path and match the driver";
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "cuDNN has no kernel for this shape, data type and math mode on this GPU";
    case CUDNN_STATUS_ALLOC_FAILED:
      return "lower max_batch, or free GPU memory held by other processes";
    default:
      return {};
  }
}

inline void check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  throw DeviceError(call, std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")",
                    advice_for(status));
}

inline void check(cudnnStatus_t status, const char* call) {
  if (status == CUDNN_STATUS_SUCCESS) return;
  throw DeviceError(call, cudnnGetErrorString(status), advice_for(status));
}

}  // namespace strata::cuda

#define STRATA_CUDA_CHECK(call) ::strata::cuda::check((call), #call)
