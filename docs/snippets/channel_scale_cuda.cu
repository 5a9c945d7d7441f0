// docs/snippets/channel_scale_cuda.cu: ChannelScale on the GPU against the CPU, for
// docs/adding-a-layer.md. Built by nvcc wherever strata::cuda is; without a GPU it prints
// "skipped, no GPU" (CTest: Skipped).
#include <cmath>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

#include <strata/strata.hpp>

#include "channel_scale.cuh"

using Net = strata::Sequential<strata::Input<3, 8, 8>, strata::Conv<4, 3>, ChannelScale, strata::Sigmoid>;

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("ChannelScale CUDA check: skipped, no GPU");
    return 0;
  }
  strata::Model<Net, strata::Cpu> cpu(4, 1);
  strata::Model<Net, strata::Cuda> gpu(4, 1);  // same seed: same initial weights
  strata::Adam adam_cpu{}, adam_gpu{};
  std::vector<float> x(4 * Net::input_shape::size), y(4 * Net::output_shape::size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 11) / 11.0f;
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<float>(i % 5) / 5.0f;
  double worst = 0.0;
  for (int step = 0; step < 5; ++step) {
    const float a = cpu.train_step(x, y, 4, strata::BinaryCrossEntropy{}, adam_cpu);
    const float b = gpu.train_step(x, y, 4, strata::BinaryCrossEntropy{}, adam_gpu);
    worst = std::max(worst, std::abs(static_cast<double>(a) - b) / std::abs(static_cast<double>(a)));
  }
  std::printf("ChannelScale CUDA check: largest relative loss difference over 5 steps %.2e\n", worst);
  return worst < 1e-3 ? 0 : 1;
}
