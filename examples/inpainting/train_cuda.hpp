// examples/inpainting/train_cuda.hpp: training on the GPU, callable from code g++ compiles.
//
// main.cpp is plain C++ (CLI11, g++); Trainer<Net, strata::Cuda> holds CUDA kernels, so it lives in
// train_cuda.cu, which nvcc compiles into its own library when CMake finds the CUDA backend (the
// build then defines STRATA_INPAINT_CUDA for main.cpp). This header needs no CUDA headers.
#pragma once

#include <functional>
#include <ostream>
#include <string>

#include <strata/data/image_set.hpp>
#include <strata/train/trainer.hpp>

namespace inpainting {

// Throws strata::DeviceError when there is no usable GPU (no device, no driver), so
// `train --device cuda` says so before it loads any data.
void require_cuda_device();

// Trains the architecture called `arch` (an entry of Architectures) with
// Trainer<Net, strata::Cuda> on the current GPU: what the CPU path does with Trainer<Net, Cpu>,
// returning the same result, with the GPU settings in `gpu`. `started` is called once the model
// is on the GPU, just before training begins.
// Throws std::invalid_argument for an unknown name, strata::DeviceError (DeviceOutOfMemory) for a
// GPU failure, and what Trainer::run throws.
struct CudaSettings {
  // The trainer's command line sets every field (main.cpp: --layout auto, --cudnn-engines all and
  // --direct-conv timed by default); these defaults are a Context's own.
  // fp32; tf32 (tensor-core convolutions); or bf16 (Trainer<Net, Cuda, bfloat16>: bf16
  // activations, fp32 master weights).
  std::string precision = "fp32";
  // Each training step recorded once as a CUDA graph and replayed; if recording fails, training
  // goes on eagerly and a line on `out` says why.
  bool graphs = true;
  // Activations channels last on the GPU (cuda::Context::set_channels_last); checkpoints are the same.
  bool channels_last = false;
  // cuDNN's graph-API engines among each convolution's candidates (cuda::Context::set_graph_engines).
  bool graph_engines = false;
  // strata's direct kernels for layers with at most 4 channels on one side
  // (cuda::Context::set_direct_convolutions): off, timed or always.
  std::string direct_convolutions = "off";
};
strata::train::TrainingResult train_on_cuda(const std::string& arch, const strata::train::TrainerConfig& config,
                                            const strata::data::ImageSet& train,
                                            const strata::data::ImageSet& validation, std::ostream& out,
                                            const CudaSettings& gpu, const std::function<void()>& started);

}  // namespace inpainting
