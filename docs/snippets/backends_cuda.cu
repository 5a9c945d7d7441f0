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

// [graphs]
// Each training step recorded once as a CUDA graph, then replayed with one launch and one wait.
float train_with_graphs(const std::vector<float>& x, const std::vector<float>& y, int steps) {
  strata::Model<Net, strata::Cuda> model{/*max_batch=*/64, /*seed=*/1};
  auto& context = model.device_context();
  context.set_step_graphs(true);   // off by default
  strata::Adam adam{};
  float loss = 0;
  for (int i = 0; i < steps; ++i)  // step 1 eager (chooses algorithms), step 2 recorded, then replays
    loss = model.train_step(x, y, 64, strata::BinaryCrossEntropy{}, adam);
  if (!context.step_graph_fallback().empty())   // recording failed: the steps ran eagerly
    std::printf("CUDA graphs off: %s\n", context.step_graph_fallback().c_str());
  return loss;
}
// [graphs]

// [page-locked]
// Batches the GPU's copy engine reads directly: page-locked for the whole run, no staging copy.
float train_from_locked_memory(std::vector<float>& x, int steps) {
  strata::Model<Net, strata::Cuda> model{/*max_batch=*/64, /*seed=*/1};
  const auto lock = strata::Cuda::lock_host_memory(x);   // unlocked with `lock`; empty if refused
  strata::Adam adam{};
  float loss = 0;
  for (int i = 0; i < steps; ++i) loss = model.train_step(x, x, 64, strata::BinaryCrossEntropy{}, adam);
  if (lock == nullptr || model.device_context().direct_copies() == 0)
    std::printf("the batches went through the staging copy\n");
  return loss;
}
// [page-locked]

// [ahead]
// Two page-locked batches in turn, each sent to the GPU while the step before it computes; the
// activations channels last (NHWC) on the device.
float train_sending_ahead(std::vector<float>& a, std::vector<float>& b, int steps) {
  strata::Model<Net, strata::Cuda> model{/*max_batch=*/64, /*seed=*/1};
  model.device_context().set_channels_last(true);   // before the first batch crosses
  const auto lock_a = strata::Cuda::lock_host_memory(a), lock_b = strata::Cuda::lock_host_memory(b);
  strata::Adam adam{};
  float loss = 0;
  for (int i = 0; i < steps; ++i) {
    const std::vector<float>& x = i % 2 == 0 ? a : b;
    if (i + 1 < steps) model.upload_ahead(i % 2 == 0 ? b : a);   // false, nothing done, if not page-locked
    loss = model.train_step(x, x, 64, strata::BinaryCrossEntropy{}, adam);
  }
  return loss;
}
// [ahead]

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("CUDA backend example: skipped, no GPU");
    return 0;
  }
  std::vector<float> x(64 * Net::input_shape::size, 0.5f), y = x, out(x.size());
  const float loss = train_once(x, y, out);
  const float graph_loss = train_with_graphs(x, y, 4);
  const float locked_loss = train_from_locked_memory(x, 2);
  std::vector<float> x2(x.size(), 0.25f);
  const float ahead_loss = train_sending_ahead(x, x2, 4);
  std::printf("CUDA backend example: loss %.4f, after 4 steps with CUDA graphs %.4f, from locked memory %.4f, "
              "sent ahead %.4f\n",
              loss, graph_loss, locked_loss, ahead_loss);
  return loss > 0 && graph_loss > 0 && locked_loss > 0 && ahead_loss > 0 ? 0 : 1;
}
