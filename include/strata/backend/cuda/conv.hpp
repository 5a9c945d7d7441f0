// strata/backend/cuda/conv.hpp: convolution with bias on the GPU through cuDNN.
//
//   forward          y = conv(x, W) (cudnnConvolutionForward), then y += b (cudnnAddTensor)
//   backward-filter  dW = cudnnConvolutionBackwardFilter(x, dy), db = cudnnConvolutionBackwardBias(dy)
//   backward-data    dx = cudnnConvolutionBackwardData(W, dy), when the input gradient is needed
// Gradients are written (beta = 0), not accumulated, as the CPU backend does.
//
// Each pass's algorithm is chosen the first time it runs for a layer shape, batch size and
// precision (conv_plan.hpp), by timing every algorithm on the layer's own buffers
// (cudnnFind*Ex) or by cuDNN's heuristics (Context::set_algorithm_search), and only among those
// whose workspace fits the budget in the scratch memory and whose math the precision allows. The
// search runs on the first step; later steps reuse the choice.
//
// Conv followed by ReLU (conv2d_forward_relu, for a Model that runs such a pair as one pass):
// y = relu(conv(x, W) + b) in one cudnnConvolutionBiasActivationForward call where cuDNN runs it
// for the layer's chosen algorithm; where it refuses (older cuDNN ran only implicit-precomputed
// GEMM fused), the three unfused steps: forward, bias, then the ReLU kernel in place. Which one
// is found on the first call, which is eager, and kept in the plan.
#pragma once

#include <string>
#include <type_traits>

#include <cudnn.h>

#include "strata/backend/cuda/activation.cuh"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/conv_plan.hpp"
#include "strata/backend/cuda/padding.cuh"
#include "strata/core/tensor.hpp"
#include "strata/layers/conv.hpp"

namespace strata::cuda {

// Floats of the Model's scratch a convolution needs at this batch (the Model keeps the largest).
inline std::size_t conv2d_scratch_floats(Dims in, Dims out, const ConvGeometry& g, int batch, int /*threads*/) {
  return conv_scratch_layout(in, out, g, batch).total();
}

namespace detail {

// The first (fastest, as cuDNN orders them) usable result: it ran, its workspace fits, and its
// math is allowed: never fp16 down-conversion; tensor-core (TF32) math only in tf32 precision;
// a deterministic algorithm when the context asks for one (Context::set_deterministic).
// In fp32 the descriptor keeps CUDNN_FMA_MATH; in tf32 it takes the chosen algorithm's math.
template <class Perf>
auto pick_algorithm(const char* search, const Perf* results, int count, std::size_t budget, const ConvKey& key,
                    cudnnConvolutionDescriptor_t conv) {
  const Precision precision = key.precision;
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > budget) continue;
    if (key.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    if (r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    if (precision == Precision::fp32 && r.mathType == CUDNN_TENSOR_OP_MATH) continue;
    if (precision == Precision::tf32) STRATA_CUDA_CHECK(cudnnSetConvolutionMathType(conv, r.mathType));
    return ChosenAlgorithm<decltype(r.algo)>{r.algo, r.mathType, r.memory};
  }
  throw DeviceError(search, "no algorithm among " + std::to_string(count) + " ran within the " +
                                DeviceOutOfMemory::bytes_text(budget) + " workspace budget in this precision" +
                                (key.deterministic ? " among deterministic algorithms" : ""),
                    "this is a strata bug or an unsupported shape; report the layer and the GPU");
}

inline ChosenAlgorithm<cudnnConvolutionFwdAlgo_t> choose_forward(Context& ctx, ConvPlan& p, const float* x,
                                                                 const float* w, float* y, void* workspace,
                                                                 std::size_t bytes) {
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.forward_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn(), p.x.get(), x, p.w.get(), w, conv, p.y.get(),
                                                             y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results,
                                                             workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), p.x.get(), p.w.get(), conv, p.y.get(),
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results));
  }
  return pick_algorithm("choosing a forward convolution algorithm", results, count, bytes, p.key, conv);
}

inline ChosenAlgorithm<cudnnConvolutionBwdDataAlgo_t> choose_backward_data(Context& ctx, ConvPlan& p, const float* w,
                                                                           const float* dy, float* dx,
                                                                           void* workspace, std::size_t bytes) {
  cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.data_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.cudnn(), p.w.get(), w, p.y.get(), dy, conv,
                                                                  p.x.get(), dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                  &count, results, workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn(), p.w.get(), p.y.get(), conv, p.x.get(),
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                                  results));
  }
  return pick_algorithm("choosing a backward-data convolution algorithm", results, count, bytes, p.key, conv);
}

inline ChosenAlgorithm<cudnnConvolutionBwdFilterAlgo_t> choose_backward_filter(Context& ctx, ConvPlan& p,
                                                                               const float* x, const float* dy,
                                                                               float* dw, void* workspace,
                                                                               std::size_t bytes) {
  cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.filter_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        ctx.cudnn(), p.x.get(), x, p.y.get(), dy, conv, p.w.get(), dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
        results, workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.cudnn(), p.x.get(), p.y.get(), conv,
                                                                    p.w.get(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                    &count, results));
  }
  return pick_algorithm("choosing a backward-filter convolution algorithm", results, count, bytes, p.key, conv);
}

// The scratch regions of one call.
struct ConvBuffers {
  float* padded_input;
  float* padded_gradient;
  void* workspace;
  std::size_t workspace_bytes;
};

inline ConvBuffers conv_buffers(float* scratch, Dims in, Dims out, const ConvGeometry& g, int batch) {
  const ConvScratch s = conv_scratch_layout(in, out, g, batch);
  return {scratch, scratch + s.padded_input, scratch + s.padded_input + s.padded_gradient, s.workspace * sizeof(float)};
}

// The input cuDNN convolves: x itself, or its zero-padded copy in scratch.
inline const float* conv_input(const ConvPlan& p, const float* x, const ConvBuffers& b, cudaStream_t stream) {
  if (!p.padded) return x;
  pad_input(x, b.padded_input, p.key.batch, p.key.in, p.conv_input, p.key.geometry.pad_top, p.key.geometry.pad_left,
            stream);
  return b.padded_input;
}

}  // namespace detail

template <class T>
void conv2d_forward(BasicTensor<const T> x, BasicTensor<T> y, const T* weight, const T* bias, const ConvGeometry& g,
                    T* scratch, const StepInfo& step) {
  static_assert(std::is_same_v<T, float>, "strata::Cuda runs float models");
  Context& ctx = context_of(step);
  ConvPlan& p = ctx.conv_plan(x.dims, y.dims, g, x.batch);
  const detail::ConvBuffers b = detail::conv_buffers(scratch, x.dims, y.dims, g, x.batch);
  const float* input = detail::conv_input(p, x.data, b, ctx.stream());
  if (!p.forward) p.forward = detail::choose_forward(ctx, p, input, weight, y.data, b.workspace, b.workspace_bytes);
  const float one = 1.0f;
  const float zero = 0.0f;
  STRATA_CUDA_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, p.x.get(), input, p.w.get(), weight,
                                            p.forward_conv.get(), p.forward->algorithm, b.workspace,
                                            b.workspace_bytes, &zero, p.y.get(), y.data));
  STRATA_CUDA_CHECK(cudnnAddTensor(ctx.cudnn(), &one, p.bias.get(), bias, &one, p.y.get(), y.data));
}

// y = relu(conv(x, W) + b): conv2d_forward and a ReLU in one pass (see the header comment).
template <class T>
void conv2d_forward_relu(BasicTensor<const T> x, BasicTensor<T> y, const T* weight, const T* bias,
                         const ConvGeometry& g, T* scratch, const StepInfo& step) {
  static_assert(std::is_same_v<T, float>, "strata::Cuda runs float models");
  Context& ctx = context_of(step);
  ConvPlan& p = ctx.conv_plan(x.dims, y.dims, g, x.batch);
  if (p.relu_fusion != ReluFusion::unfused) {
    const detail::ConvBuffers b = detail::conv_buffers(scratch, x.dims, y.dims, g, x.batch);
    const float* input = detail::conv_input(p, x.data, b, ctx.stream());
    if (!p.forward) p.forward = detail::choose_forward(ctx, p, input, weight, y.data, b.workspace, b.workspace_bytes);
    const float one = 1.0f;
    const float zero = 0.0f;
    // z = y with alpha2 = 0: no residual input.
    const cudnnStatus_t status = cudnnConvolutionBiasActivationForward(
        ctx.cudnn(), &one, p.x.get(), input, p.w.get(), weight, p.forward_conv.get(), p.forward->algorithm,
        b.workspace, b.workspace_bytes, &zero, p.y.get(), y.data, p.bias.get(), bias, p.relu.get(), p.y.get(),
        y.data);
    if (status == CUDNN_STATUS_SUCCESS) {
      p.relu_fusion = ReluFusion::fused;
      return;
    }
    // Once it ran (or while a graph is recorded), a refusal is an error, not a missing kernel.
    if (p.relu_fusion == ReluFusion::fused || ctx.graph_phase() == GraphPhase::recording)
      check(status, "cudnnConvolutionBiasActivationForward");
    p.relu_fusion = ReluFusion::unfused;
    p.relu_fusion_status = cudnnGetErrorString(status);
  }
  conv2d_forward(x, y, weight, bias, g, scratch, step);
  launch("activation_forward_kernel (ReLU after a convolution)", y.size(), ctx.stream(),
         &activation_forward_kernel<Activation::relu, T>, static_cast<const T*>(y.data), y.data, y.size(), T(0));
}

// Writes dweight and dbias (not accumulated); writes dx unless dx.data is null.
template <class T>
void conv2d_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx, const T* weight, T* dweight,
                     T* dbias, const ConvGeometry& g, T* scratch, const StepInfo& step) {
  static_assert(std::is_same_v<T, float>, "strata::Cuda runs float models");
  Context& ctx = context_of(step);
  ConvPlan& p = ctx.conv_plan(x.dims, dy.dims, g, x.batch);
  const detail::ConvBuffers b = detail::conv_buffers(scratch, x.dims, dy.dims, g, x.batch);
  const float one = 1.0f;
  const float zero = 0.0f;
  STRATA_CUDA_CHECK(cudnnConvolutionBackwardBias(ctx.cudnn(), &one, p.y.get(), dy.data, &zero, p.bias.get(), dbias));

  const float* input = detail::conv_input(p, x.data, b, ctx.stream());
  if (!p.backward_filter)
    p.backward_filter =
        detail::choose_backward_filter(ctx, p, input, dy.data, dweight, b.workspace, b.workspace_bytes);
  STRATA_CUDA_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x.get(), input, p.y.get(), dy.data,
                                                   p.filter_conv.get(), p.backward_filter->algorithm, b.workspace,
                                                   b.workspace_bytes, &zero, p.w.get(), dweight));

  if (dx.data == nullptr) return;
  float* target = p.padded ? b.padded_gradient : dx.data;
  if (!p.backward_data)
    p.backward_data = detail::choose_backward_data(ctx, p, weight, dy.data, target, b.workspace, b.workspace_bytes);
  STRATA_CUDA_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, p.w.get(), weight, p.y.get(), dy.data,
                                                 p.data_conv.get(), p.backward_data->algorithm, b.workspace,
                                                 b.workspace_bytes, &zero, p.x.get(), target));
  if (p.padded)
    unpad_gradient(b.padded_gradient, dx.data, x.batch, x.dims, p.conv_input, g.pad_top, g.pad_left, ctx.stream());
}

}  // namespace strata::cuda
