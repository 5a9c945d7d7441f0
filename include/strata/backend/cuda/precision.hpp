// strata/backend/cuda/precision.hpp: the arithmetic the CUDA backend's convolutions may use.
//
//   model.device_context().set_precision(strata::cuda::Precision::tf32);
//
// fp32 (default): convolutions use fp32 FMA kernels only (cuDNN's CUDNN_FMA_MATH; its default
//   math would let Hopper run them in TF32). Every layer agrees with the CPU backend within 1e-4
//   relative (largest difference over largest value), losses of a training run within 1e-3.
// tf32: convolutions may run on tensor cores with inputs rounded to TF32 (10-bit mantissa) and
//   fp32 accumulation, about 4x the fp32 rate on an H100/H200. Expect layer outputs within 1e-2
//   relative of fp32. NVIDIA_TF32_OVERRIDE=0 in the environment turns it off everywhere.
// Element-wise layers, losses and optimizers always run in fp32. bf16 is not a Precision but a
// model type, Model<Net, Cuda, bfloat16> (core/bfloat16.hpp): bf16 activations and gradients with
// fp32 master weights; its convolutions run in bf16 on tensor cores whatever the precision says.
#pragma once

namespace strata::cuda {

enum class Precision : unsigned char { fp32, tf32 };

// How convolution algorithms are chosen, once per layer shape and batch size.
enum class AlgorithmSearch : unsigned char {
  benchmark,  // cudnnFind*Ex: time every algorithm on the layer's own buffers (cudnn.benchmark)
  heuristic,  // cudnnGet*_v7: cuDNN's heuristics, no timing; faster first step
};

// Whether the convolution passes of layers with at most 4 channels on one side (an autoencoder's
// RGB input and output layers) may run on strata's direct kernels (direct_conv.cuh) instead of cuDNN.
enum class DirectConvolutions : unsigned char {
  timed,   // with AlgorithmSearch::benchmark, timed against cuDNN's choice on the first call (and checked
           // against its result); the faster kept
  always,  // every pass whose shape they take (core/direct_conv.hpp)
  off,     // cuDNN only (a Context's default; the trainer uses timed)
};

}  // namespace strata::cuda
