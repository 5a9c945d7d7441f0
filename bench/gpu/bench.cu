// bench/gpu/bench.cu: training throughput of the IFT6266 autoencoders on one GPU (strata::Cuda),
// the numbers bench/gpu/check.sh sets beside the PyTorch twin's (bench/gpu/twin.py).
//
//   strata_gpu_bench [--arch v1,v2] [--batch 64,128,256] [--precision fp32,tf32,bf16]
//                    [--mode eager|graph[-nhwc][-engines][-cudnn],...] [--steps 20] [--warmup 5]
//                    [--epoch 82782] [--epoch-batch 64,256]
//                    [--epoch-mode MODES (default: --mode's)]
//                    [--host pinned|pageable] [--ahead on|off]
// For each architecture, batch, precision and mode: `warmup` untimed Adam steps (the first
// chooses the cuDNN algorithms; in graph mode the second is recorded as a CUDA graph), then
// `steps` timed ones on synthetic images (BCE against the input, the batch copied from host
// memory and the loss read every step, as the trainer does; the host batches are page-locked, as
// the twin's, unless --host pageable; each batch sent to the device during the step before it,
// Model::upload_ahead, as the trainer does, unless --ahead off). Mode eager launches every kernel of
// a step from the host; mode graph replays the recorded step (Context::set_step_graphs); a mode
// with -nhwc keeps the activations channels last (Context::set_channels_last), -engines also
// times cuDNN's graph-API engines for each convolution pass (Context::set_graph_engines), and
// -cudnn leaves every pass to cuDNN (Context::set_direct_convolutions off; otherwise the
// benchmark turns on, timed, strata's direct kernels for the layers with at most 4 channels on
// one side, which the library leaves off by default).
// Prints CSV:
//   step,ARCH,BATCH,PRECISION,IMG_PER_S,MS_PER_STEP,TFLOPS,MODE,PASSES
// with the median step time, TFLOP/s from the type's training FLOP count, and PASSES =
// DIRECT/ENGINES/ALL: of all convolution passes, how many run on strata's direct kernels and how
// many on graph-API engines. With --epoch N it first times one epoch of N images of v1 at each
// --epoch-batch in each precision and --epoch-mode:
//   epoch,v1,BATCH,PRECISION,SECONDS,IMAGES,MODE,PASSES
// bf16 trains Model<Net, Cuda, bfloat16> (bf16 activations, fp32 master weights), as the twin's
// autocast does; fp32 and tf32 train Model<Net, Cuda> with that convolution precision. A graph row whose
// steps were not all replayed (recording failed: training fell back to eager) has the mode
// graph-fallback, and a comment line gives the reason. --profile 1 brackets the timed steps with
// cudaProfilerStart/Stop, for `ncu --profile-from-start off` (check.sh's profile phase);
// --algorithms 1 prints to stderr what each convolution's algorithm searches found and chose.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include <cuda_profiler_api.h>

#include <strata/cuda.hpp>

#include "../../examples/inpainting/architectures.hpp"  // ConvNet v1 and v2, the trainer's own types
#include "../comma_list.hpp"

using namespace strata;

namespace {

struct Options {
  std::vector<std::string> archs{"v1", "v2"};
  std::vector<int> batches{64, 128, 256};
  std::vector<std::string> precisions{"fp32", "tf32", "bf16"};
  std::vector<std::string> modes{"eager", "graph"};
  int steps = 20;
  int warmup = 5;
  long epoch = 0;
  std::vector<int> epoch_batches{64};
  std::vector<std::string> epoch_modes;  // empty: modes
  bool profile = false;
  bool algorithms = false;
  bool pinned_host = true;
  bool ahead = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--arch") o.archs = bench::comma_list(value);
    else if (flag == "--batch") {
      o.batches.clear();
      for (const auto& b : bench::comma_list(value)) o.batches.push_back(std::stoi(b));
    } else if (flag == "--precision") o.precisions = bench::comma_list(value);
    else if (flag == "--mode") o.modes = bench::comma_list(value);
    else if (flag == "--epoch-mode") o.epoch_modes = bench::comma_list(value);
    else if (flag == "--steps") o.steps = std::stoi(value);
    else if (flag == "--warmup") o.warmup = std::stoi(value);
    else if (flag == "--epoch") o.epoch = std::stol(value);
    else if (flag == "--epoch-batch") {
      o.epoch_batches.clear();
      for (const auto& b : bench::comma_list(value)) o.epoch_batches.push_back(std::stoi(b));
    }
    else if (flag == "--profile") o.profile = value == "1";
    else if (flag == "--algorithms") o.algorithms = value == "1";
    else if (flag == "--host") {
      if (value != "pinned" && value != "pageable") {
        std::fprintf(stderr, "strata_gpu_bench: --host %s: choose pinned or pageable\n", value.c_str());
        std::exit(2);
      }
      o.pinned_host = value == "pinned";
    } else if (flag == "--ahead") {
      if (value != "on" && value != "off") {
        std::fprintf(stderr, "strata_gpu_bench: --ahead %s: choose on or off\n", value.c_str());
        std::exit(2);
      }
      o.ahead = value == "on";
    }
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

// `count` different batches of smooth images in (0, 1), cycled through by the timed loops, in
// page-locked host memory (--host pinned, the default: what the twin's pin_memory() gives
// PyTorch) or in ordinary pageable memory (--host pageable: copied through strata's staging).
class SyntheticBatches {
 public:
  SyntheticBatches(int count, int batch, Dims d, bool pinned) {
    const std::size_t values = static_cast<std::size_t>(batch) * d.size();
    SplitMix rng(7);
    for (int k = 0; k < count; ++k) {
      float* x = nullptr;
      if (pinned) x = pinned_.emplace_back(values).data();
      else x = pageable_.emplace_back(values).data();
      for (int n = 0; n < batch; ++n) {
        const double fx = 0.2 + 0.6 * rng.uniform(), fy = 0.2 + 0.6 * rng.uniform(), phase = 6.28 * rng.uniform();
        float* image = x + static_cast<std::size_t>(n) * d.size();
        for (int c = 0; c < d.c; ++c)
          for (int i = 0; i < d.h; ++i)
            for (int j = 0; j < d.w; ++j)
              image[(c * d.h + i) * d.w + j] = static_cast<float>(0.5 + 0.45 * std::sin(fx * j + fy * i + phase + c));
      }
      views_.emplace_back(x, values);
    }
  }
  std::span<const float> operator[](std::size_t k) const { return views_[k]; }
  std::size_t size() const { return views_.size(); }

 private:
  std::vector<cuda::PinnedBuffer<float>> pinned_;
  std::vector<std::vector<float>> pageable_;
  std::vector<std::span<const float>> views_;
};

// Calls run.template operator()<T>() with the activation scalar `precision` trains in. A row that
// fails (a cuDNN refusal, say) prints a comment saying why and counts in `failures` (the exit
// status), and the others still run.
template <class Run>
void with_activation_scalar(const std::string& what, const std::string& precision, int& failures, Run&& run) {
  try {
    if (precision == "bf16") run.template operator()<bfloat16>();
    else run.template operator()<float>();
  } catch (const std::exception& e) {
    ++failures;
    std::printf("# error in %s %s: %s\n", what.c_str(), precision.c_str(), e.what());
    std::fflush(stdout);
  }
}

// Sets the convolution precision; false for a precision this model's scalar does not train in.
template <class Net, class T>
bool apply_precision(Model<Net, Cuda, T>& model, const std::string& precision) {
  if constexpr (is_bfloat16<T>) return precision == "bf16";
  if (precision == "fp32") model.device_context().set_precision(cuda::Precision::fp32);
  else if (precision == "tf32") model.device_context().set_precision(cuda::Precision::tf32);
  else return false;
  return true;
}

// A mode: eager or graph, then -nhwc for channels-last activations, then -engines for cuDNN's
// graph-API engines among each convolution pass's candidates (Context::set_graph_engines), then
// -cudnn for no direct kernels (Context::set_direct_convolutions).
struct ModeParts {
  bool known = false;
  bool graphs = false;
  bool nhwc = false;
  bool engines = false;
  bool cudnn_only = false;
};
ModeParts parse_mode(std::string mode) {
  ModeParts m;
  auto take_suffix = [&mode](const std::string& suffix) {
    if (!mode.ends_with(suffix)) return false;
    mode.resize(mode.size() - suffix.size());
    return true;
  };
  m.cudnn_only = take_suffix("-cudnn");
  m.engines = take_suffix("-engines");
  m.nhwc = take_suffix("-nhwc");
  m.known = mode == "eager" || mode == "graph";
  m.graphs = mode == "graph";
  return m;
}
bool graph_mode(const std::string& mode) { return parse_mode(mode).graphs; }

// Turns graphs on for a graph mode, channels last for -nhwc, graph engines for -engines, direct
// kernels off for -cudnn; false for an unknown mode.
template <class Net, class T>
bool apply_mode(Model<Net, Cuda, T>& model, const std::string& mode) {
  const ModeParts m = parse_mode(mode);
  if (!m.known) return false;
  model.device_context().set_step_graphs(m.graphs);
  model.device_context().set_channels_last(m.nhwc);
  model.device_context().set_graph_engines(m.engines);
  model.device_context().set_direct_convolutions(m.cudnn_only ? cuda::DirectConvolutions::off
                                                              : cuda::DirectConvolutions::timed);
  return true;
}

// The PASSES column: DIRECT/ENGINES/ALL convolution passes (strata's direct kernels, cuDNN's
// graph-API engines, all chosen).
template <class Net, class T>
std::string passes_cell(Model<Net, Cuda, T>& model) {
  const auto passes = model.device_context().convolution_passes();
  return std::to_string(passes.on_direct_kernels) + "/" + std::to_string(passes.on_graph_engines) + "/" +
         std::to_string(passes.chosen);
}

// The mode a row reports: a graph mode only if every timed step was a replay.
template <class Net, class T>
std::string mode_done(Model<Net, Cuda, T>& model, const std::string& mode, std::uint64_t replays_before,
                      long timed_steps) {
  if (!graph_mode(mode)) return mode;
  auto& context = model.device_context();
  const std::uint64_t replays = context.step_graph_cache().replays() - replays_before;
  if (replays == static_cast<std::uint64_t>(timed_steps)) return mode;
  const std::string& reason = context.step_graph_fallback();
  std::printf("# %s-fallback: %llu of %ld timed steps replayed; %s\n", mode.c_str(),
              static_cast<unsigned long long>(replays), timed_steps,
              reason.empty() ? "no recorded graph" : reason.c_str());
  return mode + "-fallback";
}

// The header says whether batches were sent ahead; a comment line says so where none was taken
// from such a copy after all (upload_ahead refused the memory).
template <class Net, class T>
void warn_if_not_sent_ahead(Model<Net, Cuda, T>& model, const Options& o) {
  if (o.ahead && o.pinned_host && model.device_context().uploads_from_ahead() == 0)
    std::printf("# warning: no batch of the row below was taken from a copy sent ahead\n");
}

template <class Net, class T>
void bench_steps(const std::string& arch, int batch, const std::string& precision, const std::string& mode,
                 const Options& o) {
  // Before the model: a copy sent ahead from them is waited for by the model's context on its way out.
  const SyntheticBatches batches(4, batch, Net::input_shape::dims, o.pinned_host);
  Model<Net, Cuda, T> model(batch, 1);
  if (!apply_precision(model, precision) || !apply_mode(model, mode)) {
    std::printf("step,%s,%d,%s,not-implemented,,,%s\n", arch.c_str(), batch, precision.c_str(), mode.c_str());
    return;
  }
  Adam adam;
  // Step i: batch i % 4, with batch i + 1 sent ahead (--ahead on).
  auto step = [&](int i) {
    const auto& x = batches[i % batches.size()];
    if (o.ahead) model.upload_ahead(batches[(i + 1) % batches.size()]);
    model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  };
  for (int i = 0; i < o.warmup; ++i) step(i);
  model.device_context().synchronize();
  const std::uint64_t replays_before = model.device_context().step_graph_cache().replays();
  std::vector<double> ms;
  if (o.profile) STRATA_CUDA_CHECK(cudaProfilerStart());
  for (int i = 0; i < o.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step(o.warmup + i);
    model.device_context().synchronize();  // the optimizer's update too
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  if (o.profile) STRATA_CUDA_CHECK(cudaProfilerStop());
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2];
  const double images_per_s = batch / (median / 1000.0);
  const std::string done = mode_done(model, mode, replays_before, o.steps);
  warn_if_not_sent_ahead(model, o);
  std::printf("step,%s,%d,%s,%.1f,%.3f,%.2f,%s,%s\n", arch.c_str(), batch, precision.c_str(), images_per_s, median,
              images_per_s * training_flops<Net>() / 1e12, done.c_str(), passes_cell(model).c_str());
  std::fflush(stdout);
  if (o.algorithms)
    std::fprintf(stderr, "## %s batch %d %s %s\n%s", arch.c_str(), batch, precision.c_str(), mode.c_str(),
                 model.device_context().describe_convolutions().c_str());
}

// One epoch of `images` images at `batch` (the last batch smaller), batches copied from host.
template <class T>
void bench_epoch(long images, int batch, const std::string& precision, const std::string& mode, const Options& o) {
  using Net = inpainting::ConvNetV1;
  const SyntheticBatches batches(16, batch, Net::input_shape::dims, o.pinned_host);  // before the model, as above
  Model<Net, Cuda, T> model(batch, 1);
  if (!apply_precision(model, precision) || !apply_mode(model, mode)) {
    std::printf("epoch,v1,%d,%s,not-implemented,%ld,%s\n", batch, precision.c_str(), images, mode.c_str());
    return;
  }
  Adam adam;
  const long last = images % batch;
  // Warm-up: chooses the algorithms at both batch sizes the epoch uses (and, in graph mode,
  // records both steps in the second round).
  for (int round = 0; round < (graph_mode(mode) ? 2 : 1); ++round) {
    model.train_step(batches[0], batches[0], batch, BinaryCrossEntropy{}, adam);
    if (last > 0) {
      const auto part =
          std::span<const float>(batches[0]).first(static_cast<std::size_t>(last) * Net::input_shape::size);
      model.train_step(part, part, static_cast<int>(last), BinaryCrossEntropy{}, adam);
    }
  }
  model.device_context().synchronize();
  const std::uint64_t replays_before = model.device_context().step_graph_cache().replays();
  long steps = 0;
  const auto start = std::chrono::steady_clock::now();
  long done = 0;
  // Batch k: the first n images of buffer k % 16 (n = batch, or what is left).
  auto batch_k = [&](long k) {
    const long first = k * batch;
    const auto n = static_cast<std::size_t>(std::min<long>(batch, images - first));
    return std::span<const float>(batches[static_cast<std::size_t>(k) % batches.size()]).first(n * Net::input_shape::size);
  };
  for (long k = 0; done < images; ++k) {
    const int n = static_cast<int>(std::min<long>(batch, images - done));
    if (o.ahead && done + n < images) model.upload_ahead(batch_k(k + 1));
    const auto x = batch_k(k);
    model.train_step(x, x, n, BinaryCrossEntropy{}, adam);
    done += n;
    ++steps;
  }
  model.device_context().synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string finished = mode_done(model, mode, replays_before, steps);
  warn_if_not_sent_ahead(model, o);
  std::printf("epoch,v1,%d,%s,%.3f,%ld,%s,%s\n", batch, precision.c_str(), seconds, images, finished.c_str(),
              passes_cell(model).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  int failures = 0;
  try {
    cudaDeviceProp p{};
    STRATA_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    std::printf("# strata %s on %s (%d SMs, %.1f GiB), cuDNN %zu; v1 %.3f, v2 %.3f GFLOP per training image\n",
                version, p.name, p.multiProcessorCount, p.totalGlobalMem / 1073741824.0, cudnnGetVersion(),
                training_flops<inpainting::ConvNetV1>() / 1e9, training_flops<inpainting::ConvNetV2>() / 1e9);
    std::printf("# host batches: %s\n", o.pinned_host ? "pinned (page-locked, as the twin's pin_memory())"
                                                        : "pageable (through strata's pinned staging)");
    std::printf("# each batch sent during the step before it (Model::upload_ahead): %s\n",
                o.ahead && o.pinned_host ? "yes" : "no");
    std::printf("# parameters: v1 %zu, v2 %zu\n", inpainting::ConvNetV1::parameter_count,
                inpainting::ConvNetV2::parameter_count);
    // The epochs first: under check.sh's time limit, the last step rows (v2) are what a slow run loses.
    if (o.epoch > 0)
      for (int batch : o.epoch_batches)
        for (const auto& precision : o.precisions)
          for (const auto& mode : o.epoch_modes.empty() ? o.modes : o.epoch_modes)
            with_activation_scalar("epoch batch " + std::to_string(batch) + " " + mode, precision, failures,
                                   [&]<class T>() { bench_epoch<T>(o.epoch, batch, precision, mode, o); });
    for (const auto& arch : o.archs)
      for (int batch : o.batches)
        for (const auto& precision : o.precisions)
          for (const auto& mode : o.modes)
            with_activation_scalar("step " + arch + " batch " + std::to_string(batch) + " " + mode, precision,
                                   failures, [&]<class T>() {
              if (arch == "v1") bench_steps<inpainting::ConvNetV1, T>(arch, batch, precision, mode, o);
              else if (arch == "v2") bench_steps<inpainting::ConvNetV2, T>(arch, batch, precision, mode, o);
              else std::fprintf(stderr, "strata_gpu_bench: unknown architecture %s (v1, v2)\n", arch.c_str());
            });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strata_gpu_bench: %s\n", e.what());
    return 1;
  }
  if (failures > 0) std::fprintf(stderr, "strata_gpu_bench: %d rows failed (see the # error lines)\n", failures);
  return failures > 0 ? 1 : 0;
}
