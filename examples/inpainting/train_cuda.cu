// examples/inpainting/train_cuda.cu: strata-inpaint's `train --device cuda` (see train_cuda.hpp).
//
// Two Trainers per architecture are compiled here by nvcc, Trainer<Net, strata::Cuda> (fp32 or tf32
// convolutions) and Trainer<Net, strata::Cuda, strata::bfloat16> (bf16); main.cpp (g++) calls
// train_on_cuda through the header.
#include "train_cuda.hpp"

#include <stdexcept>

#include <strata/cuda.hpp>

#include "architectures.hpp"

namespace inpainting {

void require_cuda_device() {
  int devices = 0;
  STRATA_CUDA_CHECK(cudaGetDeviceCount(&devices));
  if (devices == 0) throw strata::DeviceError("cudaGetDeviceCount", "no CUDA device", "check `nvidia-smi`");
}

namespace {

template <class Net, class T>
strata::train::TrainingResult train_model(const strata::train::TrainerConfig& config,
                                          const strata::data::ImageSet& train, const strata::data::ImageSet& validation,
                                          std::ostream& out, strata::cuda::Precision convolutions,
                                          const CudaSettings& gpu, const std::function<void()>& started) {
  strata::train::Trainer<Net, strata::Cuda, T> trainer(config, train, validation, out);
  auto& context = trainer.model().device_context();
  context.set_precision(convolutions);
  context.set_step_graphs(gpu.graphs);
  context.set_channels_last(gpu.channels_last);
  context.set_graph_engines(gpu.graph_engines);
  context.set_direct_convolutions(gpu.direct_convolutions == "always"  ? strata::cuda::DirectConvolutions::always
                                  : gpu.direct_convolutions == "timed" ? strata::cuda::DirectConvolutions::timed
                                                                       : strata::cuda::DirectConvolutions::off);
  const bool graphs = gpu.graphs;
  out << "CUDA: " << gpu.precision << ", activations "
      << (gpu.channels_last ? "channels last (NHWC)" : "channels first (NCHW)") << ", cuDNN "
      << (gpu.graph_engines ? "graph-API engines and legacy algorithms" : "legacy algorithms")
      << ", direct convolution kernels " << gpu.direct_convolutions << ", CUDA graphs " << (graphs ? "on" : "off")
      << std::endl;
  if (started) started();
  strata::train::TrainingResult result = trainer.run();
  if (graphs) {
    const auto& cache = context.step_graph_cache();
    if (!context.step_graph_fallback().empty())
      out << "CUDA graphs: off after " << cache.replays() << " replayed steps: " << context.step_graph_fallback()
          << std::endl;
    else
      out << "CUDA graphs: " << cache.replays() << " steps replayed from " << cache.captures() << " recorded"
          << std::endl;
  }
  return result;
}

}  // namespace

strata::train::TrainingResult train_on_cuda(const std::string& arch, const strata::train::TrainerConfig& config,
                                            const strata::data::ImageSet& train,
                                            const strata::data::ImageSet& validation, std::ostream& out,
                                            const CudaSettings& gpu, const std::function<void()>& started) {
  const std::string& precision = gpu.precision;
  if (precision != "fp32" && precision != "tf32" && precision != "bf16")
    throw std::invalid_argument("--precision " + precision + ": choose fp32, tf32 or bf16");
  strata::train::TrainingResult result;
  const bool known = Architectures::visit(arch, [&]<class Net>() {
    if (precision == "bf16")
      result = train_model<Net, strata::bfloat16>(config, train, validation, out, strata::cuda::Precision::fp32,
                                                  gpu, started);
    else
      result = train_model<Net, float>(config, train, validation, out,
                                       precision == "tf32" ? strata::cuda::Precision::tf32
                                                           : strata::cuda::Precision::fp32,
                                       gpu, started);
  });
  if (!known) throw std::invalid_argument("--arch " + arch + ": unknown; choose one of " + Architectures::names());
  return result;
}

}  // namespace inpainting
