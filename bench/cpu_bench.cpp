// bench/cpu_bench.cpp: training-step and inference throughput of the IFT6266 autoencoders on the
// CPU backend, the numbers bench/cpu.sh sets beside PyTorch's.
//
//   strata_cpu_bench [--arch v1|v2|all] [--batch 64] [--threads 1,2] [--steps 10] [--warmup 3]
// prints one line per (arch, threads, mode) with the median over `steps` timed repetitions after
// `warmup` untimed ones: images per second and achieved GFLOP/s, computed from the network
// type's exact FLOP count (Sequential::training_flops / forward_flops).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <strata/data/batches.hpp>
#include <strata/data/procedural.hpp>
#include <strata/strata.hpp>

#include "../examples/inpainting/architectures.hpp"

using namespace strata;

namespace {

struct Options {
  std::string arch = "all";
  int batch = 64;
  std::vector<int> threads{1, 2};
  int steps = 10;
  int warmup = 3;
};

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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--arch") o.arch = value;
    else if (flag == "--batch") o.batch = std::stoi(value);
    else if (flag == "--steps") o.steps = std::stoi(value);
    else if (flag == "--warmup") o.warmup = std::stoi(value);
    else if (flag == "--threads") {
      o.threads.clear();
      for (std::size_t p = 0; p < value.size();) {
        const std::size_t comma = value.find(',', p);
        o.threads.push_back(std::stoi(value.substr(p, comma - p)));
        p = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::printf("library,arch,mode,threads,batch,images_per_second,gflops\n");
  if (o.arch == "v1" || o.arch == "all") bench<inpainting::ConvNetV1>("v1", o);
  if (o.arch == "v2" || o.arch == "all") bench<inpainting::ConvNetV2>("v2", o);
  return 0;
}
