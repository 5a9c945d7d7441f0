// docs/snippets/backends_cuda.cu: the CUDA code of docs/backends.md and docs/cuda-backend.md.
// Built by nvcc wherever strata::cuda is; without a GPU it prints "skipped, no GPU".
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

// [cuda]
#include <strata/cuda.hpp>   // in a .cu file: it holds CUDA kernels, so nvcc compiles it

using Net = strata::Sequential<strata::Input<3, 64, 64>, strata::Conv<32, 3>, strata::ReLU,
                               strata::Conv<3, 3>, strata::Sigmoid>;

float train_once(const std::vector<float>& x, const std::vector<float>& y, std::vector<float>& out) {
  strata::Model<Net, strata::Cuda> model{/*max_batch=*/64, /*seed=*/1};   // all GPU memory claimed here
  model.device_context().set_precision(strata::cuda::Precision::tf32);  // optional: TF32 tensor cores
  strata::Adam adam{};
  float loss = model.train_step(x, y, 64, strata::BinaryCrossEntropy{}, adam);   // x, y: host NCHW floats
  model.predict(x, 64, out);
  return loss;
}
// [cuda]

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("CUDA backend example: skipped, no GPU");
    return 0;
  }
  std::vector<float> x(64 * Net::input_shape::size, 0.5f), y = x, out(x.size());
  const float loss = train_once(x, y, out);
  std::printf("CUDA backend example: loss %.4f\n", loss);
  return loss > 0 ? 0 : 1;
}
