// bench/cpu_bench.cpp: training-step and inference throughput of the IFT6266 autoencoders on the
// CPU backend, the numbers bench/cpu.sh sets beside PyTorch's.
//
//   strata_cpu_bench [--arch v1,v2] [--mode train|inference|all] [--batch 64] [--threads 1,2] [--steps 10]
//                    [--warmup 3]
// (--arch: any of v1, v2, v1-unet, comma-separated) prints one line per (arch, threads, mode)
// with the median over `steps` timed repetitions after `warmup` untimed ones: images per second
// and achieved GFLOP/s, computed from the network type's exact FLOP count
// (Sequential::training_flops / forward_flops). It also measures the machine's float FMA peak on
// the same thread counts (independent AVX-512 or AVX2 multiply-adds on every thread at once), the
// ceiling those GFLOP/s are a fraction of.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include <strata/data/batches.hpp>
#include <strata/data/procedural.hpp>
#include <strata/strata.hpp>

#include "../examples/inpainting/architectures.hpp"
#include "comma_list.hpp"

using namespace strata;

namespace {

struct Options {
  std::vector<std::string> archs{"v1", "v2"};
  std::string mode = "all";
  int batch = 64;
  std::vector<int> threads{1, 2};
  int steps = 10;
  int warmup = 3;
};

// The models bench/torch_twin.py has twins of (each one instantiated costs compile time).
using Benchmarked = inpainting::ArchitectureList<inpainting::V1, inpainting::V2, inpainting::V1UNet>;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <class Net>
void bench(const std::string& name, const Options& o) {
  const data::ImageSet images = data::procedural_images(static_cast<std::size_t>(o.batch), 1, 64);
  const std::size_t floats = static_cast<std::size_t>(o.batch) * Net::input_shape::size;
  std::vector<float> x(floats), y(floats), out(floats);
  std::vector<std::size_t> index(o.batch);
  for (int n = 0; n < o.batch; ++n) index[n] = n;
  data::fill_batch(images, index, data::Hole{}, x.data(), y.data());
  for (int threads : o.threads) {
    Model<Net, Cpu> model(o.batch, 1, ModelOptions{.threads = threads});
    Adam adam{};
    for (const bool training : {true, false}) {
      if (o.mode != "all" && o.mode != (training ? "train" : "inference")) continue;
      std::vector<double> seconds;
      for (int i = 0; i < o.warmup + o.steps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (training) model.train_step(x, y, o.batch, BinaryCrossEntropy{}, adam);
        else model.predict(x, o.batch, out);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (i >= o.warmup) seconds.push_back(s);
      }
      const double t = median(seconds);
      const double flops = (training ? Net::training_flops : Net::forward_flops) * o.batch;
      std::printf("strata,%s,%s,%d,%d,%.1f,%.1f\n", name.c_str(), training ? "train" : "inference", threads, o.batch,
                  o.batch / t, flops / t * 1e-9);
      std::fflush(stdout);
    }
  }
}

// GFLOP/s of `threads` threads each running 24 independent chains of vector FMAs (enough to hide
// the FMA latency on current x86 cores): what no kernel can beat. 0 without AVX2 or AVX-512.
double fma_peak(int threads) {
#if defined(__AVX512F__) || defined(__AVX2__)
#if defined(__AVX512F__)
  using Vector = __m512;
  const auto broadcast = [](float v) { return _mm512_set1_ps(v); };
  const auto fma = [](Vector a, Vector b, Vector c) { return _mm512_fmadd_ps(a, b, c); };
  constexpr int lanes = 16;
#else
  using Vector = __m256;
  const auto broadcast = [](float v) { return _mm256_set1_ps(v); };
  const auto fma = [](Vector a, Vector b, Vector c) { return _mm256_fmadd_ps(a, b, c); };
  constexpr int lanes = 8;
#endif
  constexpr long steps = 20'000'000;
  std::vector<float> sink(threads);
  const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static, 1)
  for (int t = 0; t < threads; ++t) {
    Vector acc[24];
    for (int i = 0; i < 24; ++i) acc[i] = broadcast(0.001f * static_cast<float>(i + t));
    const Vector scale = broadcast(0.9999f), shift = broadcast(0.0001f);
    for (long s = 0; s < steps; ++s)
#pragma GCC unroll 24
      for (int i = 0; i < 24; ++i) acc[i] = fma(acc[i], scale, shift);
    float total = 0.0f;
    alignas(64) float lane[lanes];
    for (int i = 0; i < 24; ++i) {
      std::memcpy(lane, &acc[i], sizeof lane);
      for (float v : lane) total += v;
    }
    sink[t] = total;  // keeps the chains alive
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile float keep = sink[0];
  (void)keep;
  return 2.0 * lanes * 24 * static_cast<double>(steps) * threads / seconds * 1e-9;
#else
  (void)threads;
  return 0.0;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--arch") o.archs = bench::comma_list(value);
    else if (flag == "--mode") o.mode = value;
    else if (flag == "--batch") o.batch = std::stoi(value);
    else if (flag == "--steps") o.steps = std::stoi(value);
    else if (flag == "--warmup") o.warmup = std::stoi(value);
    else if (flag == "--threads") {
      o.threads.clear();
      for (const std::string& t : bench::comma_list(value)) o.threads.push_back(std::stoi(t));
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("library,arch,mode,threads,batch,images_per_second,gflops\n");
  for (int threads : o.threads) std::printf("fma-peak,-,peak,%d,-,-,%.1f\n", threads, fma_peak(threads));
  for (const std::string& arch : o.archs) {
    if (!Benchmarked::visit(arch, [&]<class Net>() { bench<Net>(arch, o); })) {
      std::fprintf(stderr, "strata_cpu_bench: no benchmark of %s; choose among %s\n", arch.c_str(),
                   Benchmarked::names().c_str());
      return 2;
    }
  }
  return 0;
}
