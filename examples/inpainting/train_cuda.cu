// examples/inpainting/train_cuda.cu: strata-inpaint's `train --device cuda` (see train_cuda.hpp).
//
// One Trainer<Net, strata::Cuda> per architecture is compiled here by nvcc; main.cpp (g++) calls
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

strata::train::TrainingResult train_on_cuda(const std::string& arch, const strata::train::TrainerConfig& config,
                                            const strata::data::ImageSet& train,
                                            const strata::data::ImageSet& validation, std::ostream& out,
                                            strata::cuda::Precision precision, bool graphs,
                                            const std::function<void()>& started) {
  strata::train::TrainingResult result;
  const bool known = Architectures::visit(arch, [&]<class Net>() {
    strata::train::Trainer<Net, strata::Cuda> trainer(config, train, validation, out);
    auto& context = trainer.model().device_context();
    context.set_precision(precision);
    context.set_step_graphs(graphs);
    if (started) started();
    result = trainer.run();
    if (graphs) {
      const auto& cache = context.step_graph_cache();
      if (!context.step_graph_fallback().empty())
        out << "CUDA graphs: off after " << cache.replays() << " replayed steps: " << context.step_graph_fallback()
            << std::endl;
      else
        out << "CUDA graphs: " << cache.replays() << " steps replayed from " << cache.captures() << " recorded"
            << std::endl;
    }
  });
  if (!known) throw std::invalid_argument("--arch " + arch + ": unknown; choose one of " + Architectures::names());
  return result;
}

}  // namespace inpainting
