// bench/gpu/bench.cu: training throughput of the IFT6266 autoencoders on one GPU (strata::Cuda),
// the numbers bench/gpu/check.sh sets beside the PyTorch twin's (bench/gpu/twin.py).
//
//   strata_gpu_bench [--arch v1,v2] [--batch 64,128,256] [--precision fp32,tf32,bf16]
//                    [--steps 20] [--warmup 5] [--epoch 82782] [--epoch-batch 64]
// For each architecture, batch and precision: `warmup` untimed Adam steps (the first chooses the
// cuDNN algorithms), then `steps` timed ones on synthetic images (BCE against the input, the
// batch copied from host memory and the loss read every step, as the trainer does). Prints CSV:
//   step,ARCH,BATCH,PRECISION,IMG_PER_S,MS_PER_STEP,TFLOPS
// with the median step time, and TFLOP/s from the type's training FLOP count. With --epoch N it
// then times one epoch of N images of v1 at --epoch-batch in each precision:
//   epoch,v1,BATCH,PRECISION,SECONDS,IMAGES
// bf16 is not implemented in strata yet: its rows say so instead of a number.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <strata/cuda.hpp>

#include "../../examples/inpainting/architectures.hpp"  // ConvNet v1 and v2, the trainer's own types

using namespace strata;

namespace {

struct Options {
  std::vector<std::string> archs{"v1", "v2"};
  std::vector<int> batches{64, 128, 256};
  std::vector<std::string> precisions{"fp32", "tf32", "bf16"};
  int steps = 20;
  int warmup = 5;
  long epoch = 0;
  int epoch_batch = 64;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--arch") o.archs = split(value);
    else if (flag == "--batch") {
      o.batches.clear();
      for (const auto& b : split(value)) o.batches.push_back(std::stoi(b));
    } else if (flag == "--precision") o.precisions = split(value);
    else if (flag == "--steps") o.steps = std::stoi(value);
    else if (flag == "--warmup") o.warmup = std::stoi(value);
    else if (flag == "--epoch") o.epoch = std::stol(value);
    else if (flag == "--epoch-batch") o.epoch_batch = std::stoi(value);
    else {
      std::fprintf(stderr, "strata_gpu_bench: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return o;
}

// FLOPs of one image's training step: the type's exact count when the library has it, else
// forward + the two backward products (3 x forward).
template <class Net>
constexpr double training_flops() {
  if constexpr (requires { Net::training_flops; }) return Net::training_flops;
  else return 3.0 * Net::forward_flops;
}

// `count` different batches of smooth images in (0, 1), cycled through by the timed loops.
std::vector<std::vector<float>> synthetic_batches(int count, int batch, Dims d) {
  std::vector<std::vector<float>> batches(count);
  SplitMix rng(7);
  for (auto& x : batches) {
    x.resize(static_cast<std::size_t>(batch) * d.size());
    for (int n = 0; n < batch; ++n) {
      const double fx = 0.2 + 0.6 * rng.uniform(), fy = 0.2 + 0.6 * rng.uniform(), phase = 6.28 * rng.uniform();
      float* image = x.data() + static_cast<std::size_t>(n) * d.size();
      for (int c = 0; c < d.c; ++c)
        for (int i = 0; i < d.h; ++i)
          for (int j = 0; j < d.w; ++j)
            image[(c * d.h + i) * d.w + j] = static_cast<float>(0.5 + 0.45 * std::sin(fx * j + fy * i + phase + c));
    }
  }
  return batches;
}

template <class Net>
bool apply_precision(Model<Net, Cuda>& model, const std::string& precision) {
  if (precision == "fp32") model.device_context().set_precision(cuda::Precision::fp32);
  else if (precision == "tf32") model.device_context().set_precision(cuda::Precision::tf32);
  else return false;
  return true;
}

template <class Net>
void bench_steps(const std::string& arch, int batch, const std::string& precision, const Options& o) {
  Model<Net, Cuda> model(batch, 1);
  if (!apply_precision(model, precision)) {
    std::printf("step,%s,%d,%s,not-implemented,,\n", arch.c_str(), batch, precision.c_str());
    return;
  }
  const auto batches = synthetic_batches(4, batch, Net::input_shape::dims);
  Adam adam;
  for (int i = 0; i < o.warmup; ++i) {
    const auto& x = batches[i % batches.size()];
    model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  }
  model.device_context().synchronize();
  std::vector<double> ms;
  for (int i = 0; i < o.steps; ++i) {
    const auto& x = batches[i % batches.size()];
    const auto start = std::chrono::steady_clock::now();
    model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
    model.device_context().synchronize();  // the optimizer's update too
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const double images_per_s = batch / (median / 1000.0);
  std::printf("step,%s,%d,%s,%.1f,%.3f,%.2f\n", arch.c_str(), batch, precision.c_str(), images_per_s, median,
              images_per_s * training_flops<Net>() / 1e12);
  std::fflush(stdout);
}

// One epoch of `images` images at `batch` (the last batch smaller), batches copied from host.
void bench_epoch(long images, int batch, const std::string& precision) {
  using Net = inpainting::ConvNetV1;
  Model<Net, Cuda> model(batch, 1);
  if (!apply_precision(model, precision)) {
    std::printf("epoch,v1,%d,%s,not-implemented,%ld\n", batch, precision.c_str(), images);
    return;
  }
  const auto batches = synthetic_batches(16, batch, Net::input_shape::dims);
  Adam adam;
  const long last = images % batch;
  // Warm-up: chooses the algorithms at both batch sizes the epoch uses.
  model.train_step(batches[0], batches[0], batch, BinaryCrossEntropy{}, adam);
  if (last > 0) {
    const auto part = std::span<const float>(batches[0]).first(static_cast<std::size_t>(last) * Net::input_shape::size);
    model.train_step(part, part, static_cast<int>(last), BinaryCrossEntropy{}, adam);
  }
  model.device_context().synchronize();
  const auto start = std::chrono::steady_clock::now();
  long done = 0;
  for (long k = 0; done < images; ++k) {
    const int n = static_cast<int>(std::min<long>(batch, images - done));
    const auto x = std::span<const float>(batches[k % batches.size()]).first(static_cast<std::size_t>(n) *
                                                                            Net::input_shape::size);
    model.train_step(x, x, n, BinaryCrossEntropy{}, adam);
    done += n;
  }
  model.device_context().synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("epoch,v1,%d,%s,%.3f,%ld\n", batch, precision.c_str(), seconds, images);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    cudaDeviceProp p{};
    STRATA_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    std::printf("# strata %s on %s (%d SMs, %.1f GiB), cuDNN %zu; v1 %.3f, v2 %.3f GFLOP per training image\n",
                version, p.name, p.multiProcessorCount, p.totalGlobalMem / 1073741824.0, cudnnGetVersion(),
                training_flops<inpainting::ConvNetV1>() / 1e9, training_flops<inpainting::ConvNetV2>() / 1e9);
    std::printf("# parameters: v1 %zu, v2 %zu\n", inpainting::ConvNetV1::parameter_count,
                inpainting::ConvNetV2::parameter_count);
    for (const auto& arch : o.archs)
      for (int batch : o.batches)
        for (const auto& precision : o.precisions) {
          if (arch == "v1") bench_steps<inpainting::ConvNetV1>(arch, batch, precision, o);
          else if (arch == "v2") bench_steps<inpainting::ConvNetV2>(arch, batch, precision, o);
          else std::fprintf(stderr, "strata_gpu_bench: unknown architecture %s (v1, v2)\n", arch.c_str());
        }
    if (o.epoch > 0)
      for (const auto& precision : o.precisions) bench_epoch(o.epoch, o.epoch_batch, precision);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_gpu_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
