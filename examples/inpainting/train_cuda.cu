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
                                            strata::cuda::Precision precision, const std::function<void()>& started) {
  strata::train::TrainingResult result;
  const bool known = Architectures::visit(arch, [&]<class Net>() {
    strata::train::Trainer<Net, strata::Cuda> trainer(config, train, validation, out);
    trainer.model().device_context().set_precision(precision);
    if (started) started();
    result = trainer.run();
  });
  if (!known) throw std::invalid_argument("--arch " + arch + ": unknown; choose one of " + Architectures::names());
  return result;
}

}  // namespace inpainting
