// tests/backend/cuda/parity.cu: the CUDA backend against the CPU backend, on the same inputs.
//
// Every layer kind (and the padded, strided, tied and eval-mode variants that take other code
// paths) runs forward and backward on both backends from the same parameters, buffers, input
// and upstream gradient; outputs, input and parameter gradients and updated running statistics
// must agree within 1e-4 relative in fp32 (largest difference over largest value). Then the
// losses, the optimizers, and 10 training steps of ConvNet v1 (losses within 1e-3 relative).
// Training steps recorded as CUDA graphs and replayed: the eager steps' weights bit for bit
// (deterministic algorithms), dropout and BatchNorm, non-finite steps rejected as eagerly, and the
// fallback when a step cannot be recorded. Models of bfloat16 activations against the CPU's fp32
// within their documented tolerances (kBf16Tolerance; losses of 10 ConvNet v1 steps within 1e-2).
// Where the build has stb (strata::images; CMake defines STRATA_CUDA_TEST_TRAINER), also the
// inpainting Trainer<Net, Cuda> against Trainer<Net, Cpu>, and its resume.
//
// With --channels-last every CUDA model of these tests keeps its activations channels last
// (Context::set_channels_last); with --graph-engines each convolution pass's search also times
// cuDNN's graph-API engines (Context::set_graph_engines); with --no-direct no model tries strata's
// direct convolution kernels (the case testing them is skipped), so a fault there cannot take the
// rest down with it. bench/gpu/check.sh runs the tests channels first without and with direct
// kernels, channels last, and channels last with graph engines; the CPU's answers are the same for
// all.
//
// Without a GPU it prints "CUDA runtime tests: skipped, no GPU" and exits 0 (CTest reports the
// test as skipped); CI compiles it with nvcc all the same.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <strata/strata.hpp>
#include <strata/cuda.hpp>
#ifdef STRATA_CUDA_TEST_TRAINER
#include <strata/data/procedural.hpp>
#include <strata/io/weights.hpp>
#include <strata/train/trainer.hpp>
#endif

#include "support/gradient_check.hpp"
#include "support/networks.hpp"
#include "support/synthetic_images.hpp"
#include "support/trainer_setup.hpp"

using namespace strata;
using testing::relative_difference;
using testing::synthetic_images;

namespace {

constexpr double kFp32Tolerance = 1e-4;
// bf16 activations (7 stored mantissa bits, rounding error 2^-9 per value) against the CPU's fp32:
// layer outputs and gradients within 3e-2 of their largest value, the losses of a training run
// within 1e-2 relative. A CPU emulation of bf16 storage (bf16_emulation.py, beside this file)
// found 2e-3 to 5e-3 for the layer cases below and 5e-4 to 3e-3 for the losses of 10 ConvNet v1
// steps. Gradients through a ReLU have a wider bound (below): rounding moves some of the
// convolution's outputs across zero and the ReLU then passes or stops their gradients
// differently (Conv<64, 3>, ReLU, Conv<32, 3> at batch 8: input gradient 8e-2). Not covered:
// predictions after separate training runs (4e-2 to 1.3e-1: Adam's steps do not depend on the
// gradients' size, so small differences change the weights), hence compared with equal weights.
constexpr double kBf16Tolerance = 3e-2;
// Gradients through a ReLU whose input was rounded to bf16 (the first H200 run measured 4.8e-2 for
// the input gradient of Conv<8, 3>, ReLU, Conv<4, 3> and 2.3e-2 for its first weights; the
// emulation 8e-2 for the wide pair above): within 1e-1 of their largest value. The outputs keep
// kBf16Tolerance.
constexpr double kBf16ReluGradientTolerance = 1e-1;
constexpr double kBf16LossTolerance = 1e-2;

std::vector<float> to_host(const float* device, std::size_t n) {
  std::vector<float> v(n);
  Cuda::copy_to_host(v.data(), device, n);
  return v;
}

// Set by --channels-last, --graph-engines and --no-direct (main): the layout of every CUDA model
// the tests make, whether its convolutions consider cuDNN's graph-API engines, and whether any
// may try strata's direct kernels.
bool g_channels_last = false;
bool g_graph_engines = false;
bool g_no_direct = false;

// The direct-kernel setting a test asks for, unless --no-direct turns them off for the run.
cuda::DirectConvolutions direct_setting(cuda::DirectConvolutions wanted) {
  return g_no_direct ? cuda::DirectConvolutions::off : wanted;
}

// Model<Net, Cuda, T> in the layout the tests run in.
template <class Net, class T = float>
class GpuModel : public Model<Net, Cuda, T> {
 public:
  template <class... Args>
  explicit GpuModel(Args&&... args) : Model<Net, Cuda, T>(std::forward<Args>(args)...) {
    this->device_context().set_channels_last(g_channels_last);
    this->device_context().set_graph_engines(g_graph_engines);
  }
};

// A batch of a model's activations (float or bfloat16 on the device, in its layout) as NCHW
// floats on the host.
template <class Net, class T, class U>
std::vector<float> activations_to_host(Model<Net, Cuda, T>& m, BasicTensor<U> batch) {
  std::vector<float> v(batch.size());
  Cuda::copy_batch_to_host(v.data(), BasicTensor<const T>{batch.data, batch.batch, batch.dims}, m.device_context());
  return v;
}

// The values as a bfloat16 model stores them (rounded to bf16 and back).
std::vector<float> rounded_to_bf16(std::vector<float> v) {
  for (float& x : v) x = static_cast<float>(bfloat16(x));
  return v;
}

std::vector<float> random_vector(std::size_t n, std::uint64_t seed, double low, double high) {
  SplitMix rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(low + (high - low) * rng.uniform());
  return v;
}


struct ParityOptions {
  int batch = 3;
  bool training = true;
  bool input_gradient = true;
  double input_low = -1.0;
  double input_high = 1.0;
  double tolerance = kFp32Tolerance;
  double gradient_tolerance = -1.0;  // of the input and parameter gradients, when not `tolerance`
  cuda::Precision precision = cuda::Precision::fp32;
  cuda::AlgorithmSearch search = cuda::AlgorithmSearch::benchmark;
  bool graph_engines = false;  // on whatever --graph-engines says
  // timed (the Context's default is off): a layer with at most 4 channels on one side has each
  // pass's direct kernel tried, and checked against cuDNN's result, on its first call.
  cuda::DirectConvolutions direct = cuda::DirectConvolutions::timed;
};

// One forward and backward pass of Net on both backends from identical state; the CUDA model's
// activations are T (float or bfloat16: then the input and upstream gradient are bf16 values on
// both sides, so that only the model's own rounding differs).
template <class Net, class T = float>
void check_parity(const char* what, const ParityOptions& o = {}) {
  INFO(std::string(what) << std::string(is_bfloat16<T> ? " (bf16 activations)" : ""));
  const std::uint64_t seed = 17;
  Model<Net, Cpu> cpu(o.batch, seed, ModelOptions{.input_gradient = o.input_gradient});
  GpuModel<Net, T> gpu(o.batch, seed, ModelOptions{.input_gradient = o.input_gradient});
  gpu.device_context().set_precision(o.precision);
  gpu.device_context().set_algorithm_search(o.search);
  if (o.graph_engines) gpu.device_context().set_graph_engines(true);
  const cuda::DirectConvolutions direct = direct_setting(o.direct);
  gpu.device_context().set_direct_convolutions(direct);
  if (!o.training) {
    cpu.eval();
    gpu.eval();
  }
  // Random parameters (BatchNorm's gamma near 1) and running statistics away from their start.
  SplitMix rng(seed * 31 + 7);
  for (const auto& t : cpu.parameters()) {
    const bool gamma = t.name.find("batch_norm.weight") != std::string::npos;
    for (std::size_t i = 0; i < t.size; ++i)
      t.data[i] = static_cast<float>((gamma ? 1.0 : 0.0) + 0.5 * (2.0 * rng.uniform() - 1.0));
  }
  for (const auto& t : cpu.buffers()) {
    const bool var = t.name.find("running_var") != std::string::npos;
    for (std::size_t i = 0; i < t.size; ++i)
      t.data[i] = static_cast<float>(var ? 0.5 + rng.uniform() : 0.5 * (rng.uniform() - 0.5));
  }
  Cuda::copy_to_device(gpu.parameter_data().data(), cpu.parameter_data().data(), Net::parameter_count);
  Cuda::copy_to_device(gpu.buffer_data().data(), cpu.buffer_data().data(), Net::buffer_count);

  const std::size_t in_size = static_cast<std::size_t>(o.batch) * Net::input_shape::size;
  const std::size_t out_size = static_cast<std::size_t>(o.batch) * Net::output_shape::size;
  auto x = random_vector(in_size, seed + 1, o.input_low, o.input_high);
  auto upstream = random_vector(out_size, seed + 2, -1.0, 1.0);
  if constexpr (is_bfloat16<T>) {
    x = rounded_to_bf16(std::move(x));
    upstream = rounded_to_bf16(std::move(upstream));
  }
  std::copy(x.begin(), x.end(), cpu.input(o.batch).data);
  Cuda::copy_batch_to_device(gpu.input(o.batch), x.data(), gpu.device_context());
  cpu.set_step_count(41);
  gpu.set_step_count(41);

  const auto y_cpu = cpu.forward(o.batch);
  const auto y_gpu = activations_to_host(gpu, gpu.forward(o.batch));
  // The worst difference of each kind, printed for bf16 (its tolerances' margins, measured on the
  // H200 and emulated by bf16_emulation.py).
  std::string measured;
  auto note = [&](const std::string& kind, double value) {
    measured += (measured.empty() ? "" : ", ") + kind + " " + std::to_string(value);
    return value;
  };
  CHECK(note("output", relative_difference(y_gpu, y_cpu.data, out_size)) <= o.tolerance);
  if (Net::buffer_count > 0) {
    const auto buffers = to_host(gpu.buffer_data().data(), Net::buffer_count);
    CHECK_MESSAGE(relative_difference(buffers, cpu.buffer_data().data(), Net::buffer_count) <= o.tolerance,
                  "running statistics");
  }

  const double gradient_tolerance = o.gradient_tolerance >= 0.0 ? o.gradient_tolerance : o.tolerance;
  std::copy(upstream.begin(), upstream.end(), cpu.output_gradient().data);
  Cuda::copy_batch_to_device(gpu.output_gradient(), upstream.data(), gpu.device_context());
  cpu.backward(cpu.output_gradient());
  gpu.backward(gpu.output_gradient());
  if (o.input_gradient) {
    const auto dx = activations_to_host(gpu, gpu.input_gradient());
    CHECK_MESSAGE(note("input gradient", relative_difference(dx, cpu.input_gradient().data, in_size)) <=
                      gradient_tolerance,
                  "input gradient");
  }
  // Each gradient relative to its own largest value, except a bias right before a BatchNorm in
  // training: its gradient is exactly zero in exact arithmetic, so the computed values are
  // rounding noise that only its layer's scale (the weights' gradient) can measure.
  const auto grads = to_host(gpu.gradient_data().data(), Net::parameter_count);
  const float* expected = cpu.gradient_data().data();
  auto layer_of = [](const std::string& name) { return name.substr(0, name.rfind('.')); };
  auto index_of = [](const std::string& name) { return std::stoi(name.substr(0, name.find('.'))); };
  auto before_training_batch_norm = [&](const std::string& name) {
    if (!o.training || !name.ends_with(".bias")) return false;
    const std::string next = std::to_string(index_of(name) + 1) + ".batch_norm.";
    for (const auto& u : cpu.parameters())
      if (u.name.starts_with(next)) return true;
    return false;
  };
  for (const auto& t : cpu.parameters()) {
    const bool layer_scale = before_training_batch_norm(t.name);
    double diff = 0.0, scale = 1e-3;
    for (std::size_t i = 0; i < t.size; ++i)
      diff = std::max(diff, std::abs(static_cast<double>(grads[t.offset + i]) - expected[t.offset + i]));
    for (const auto& u : cpu.parameters())
      if (u.name == t.name || (layer_scale && layer_of(u.name) == layer_of(t.name)))
        for (std::size_t i = 0; i < u.size; ++i) scale = std::max(scale, std::abs(double{expected[u.offset + i]}));
    INFO("gradient of " << t.name << std::string(layer_scale ? ", relative to its layer's largest" : ""));
    CHECK(note(t.name, diff / scale) <= gradient_tolerance);
  }
  // What each convolution pass's search found and chose, and how many passes run on what.
  const std::string described = gpu.device_context().describe_convolutions();
  const auto passes = gpu.device_context().convolution_passes();
  INFO(described);
  if (o.graph_engines) {
    CHECK(described.find("failed:") == std::string::npos);  // no engine, heuristics or graph failed
    if (o.search == cuda::AlgorithmSearch::heuristic) {
      // Every pass on the first usable engine that runs, none kept on the legacy algorithm.
      CHECK(passes.chosen > 0);
      CHECK(passes.on_graph_engines == passes.chosen);
      CHECK(described.find("the legacy algorithm kept") == std::string::npos);
    } else {
      CHECK(described.find("    legacy algorithm ") != std::string::npos);  // engines were timed against it
    }
  }
  // A direct kernel tried by timing (the default here) was checked against cuDNN's result on the way,
  // and ran: one that fails to launch is passed over for cuDNN's choice, which these comparisons
  // would then test instead of it.
  CHECK(described.find("disagrees with cuDNN") == std::string::npos);
  CHECK(passes.direct_trials_failed == 0);
  if (direct == cuda::DirectConvolutions::always) {  // these tests' stacks have only such layers
    CHECK(passes.chosen > 0);
    CHECK(passes.on_direct_kernels == passes.chosen);
  }
  if (is_bfloat16<T>)
    MESSAGE(std::string(what) << " in bf16" << std::string(g_channels_last ? ", channels last" : "")
                              << ", worst relative differences: " << measured);
}

using Dims3x12x10 = Input<3, 12, 10>;
using Dims3x12x12 = Input<3, 12, 12>;

// One training step of Net at batch 4 on a CUDA model whose context `configure` sets up: what its
// convolution passes chose, and the searches' log (INFO'd).
template <class Net, class Configure>
cuda::Context::ConvolutionPasses passes_after_one_step(Configure&& configure, std::string& described) {
  const int batch = 4;
  const auto x = random_vector(static_cast<std::size_t>(batch) * Net::input_shape::size, 5, 0.0, 1.0);
  GpuModel<Net> m(batch, 1);
  configure(m.device_context());
  Adam adam;
  m.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  m.device_context().synchronize();
  described = m.device_context().describe_convolutions();
  return m.device_context().convolution_passes();
}

}  // namespace

TEST_CASE("convolutions: symmetric, strided, explicitly padded, valid, pointwise; both algorithm searches") {
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>>>("Conv<8, 3>");
  check_parity<Sequential<Dims3x12x10, Conv<6, 3, 2>>>("Conv<6, 3, 2>: Same, stride 2, padded one row more below");
  check_parity<Sequential<Dims3x12x10, Conv<5, 2>>>("Conv<5, 2>: even kernel, asymmetric Same padding");
  check_parity<Sequential<Dims3x12x10, Conv<7, 5, 3>>>("Conv<7, 5, 3>");
  check_parity<Sequential<Dims3x12x10, Conv<4, 2, 1, Valid>>>("Conv<4, 2, 1, Valid>");
  check_parity<Sequential<Dims3x12x10, Conv<4, 1>>>("Conv<4, 1>");
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>, Conv<4, 3>>>("two convolutions", {.input_gradient = false});
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>, Conv<5, 2>>>("heuristic algorithms",
                                                               {.search = cuda::AlgorithmSearch::heuristic});
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>>>("Conv<64, 3> at 32x32x32, batch 8", {.batch = 8});
}

TEST_CASE("convolutions on cuDNN's graph-API engines: the first usable engine of each pass, and timed choices") {
  // With the heuristic search, every pass runs on the first engine cuDNN's heuristics rank usable
  // that runs (conv_engines.hpp), whatever timing would have picked: these run the engines
  // themselves.
  constexpr auto heuristic = cuda::AlgorithmSearch::heuristic;
  constexpr ParityOptions engines{.search = heuristic, .graph_engines = true};
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>>>("Conv<8, 3> on engines", engines);
  check_parity<Sequential<Dims3x12x10, Conv<6, 3, 2>>>("Conv<6, 3, 2> on engines: strided, explicitly padded", engines);
  check_parity<Sequential<Dims3x12x10, Conv<5, 2>>>("Conv<5, 2> on engines: even kernel", engines);
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>, ReLU, Conv<4, 3>>>("Conv, ReLU (fused pair), Conv on engines",
                                                                      engines);
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>>>("Conv<64, 3> at 32x32x32, batch 8, on engines",
                                                           {.batch = 8, .search = heuristic, .graph_engines = true});
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>>>(
      "Conv<64, 3> in tf32 on engines",
      {.batch = 8, .tolerance = 1e-2, .precision = cuda::Precision::tf32, .search = heuristic, .graph_engines = true});
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>, Conv<32, 3>>, bfloat16>(
      "Conv<64, 3>, Conv<32, 3> in bf16 on engines",
      {.batch = 8, .tolerance = kBf16Tolerance, .search = heuristic, .graph_engines = true});
  // Timed: each pass keeps the fastest of its legacy algorithm and the engines.
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>, ReLU, Conv<32, 3>>>(
      "Conv, ReLU, Conv at 32x32x32, the faster of legacy and engines", {.batch = 8, .graph_engines = true});

  // How many passes chose an engine: all of them with the heuristic search, none with engines off.
  using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, Conv<3, 3>, Sigmoid>;
  for (const bool on : {true, false}) {
    std::string described;
    const auto passes = passes_after_one_step<Net>(
        [&](cuda::Context& c) {
          c.set_graph_engines(on);
          c.set_algorithm_search(heuristic);
        },
        described);
    INFO(described);
    CHECK(passes.chosen == 5);  // both forwards and backward-filters, the second's backward-data
    CHECK(passes.on_graph_engines == (on ? passes.chosen : 0));
    CHECK((described.find("graph engines for the forward pass:") != std::string::npos) == on);
    CHECK(described.find("the legacy algorithm kept") == std::string::npos);
  }
}

TEST_CASE("direct convolutions (at most 4 channels on one side) against the CPU, fp32 in every precision") {
  // DirectConvolutions::always: every pass whose shape the direct kernels take runs on them
  // (direct_conv.cuh), whatever timing would have chosen. They compute in fp32 whatever the
  // precision, so in TF32 a stack of such passes only keeps fp32's tolerance.
  if (g_no_direct) {
    MESSAGE("skipped: --no-direct");
    return;
  }
  constexpr auto always = cuda::DirectConvolutions::always;
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>>>("Conv<8, 3> direct: 3 channels in", {.direct = always});
  check_parity<Sequential<Input<8, 12, 10>, Conv<3, 3>>>("Conv<3, 3> direct: 3 channels out", {.direct = always});
  check_parity<Sequential<Dims3x12x10, Conv<5, 2>>>("Conv<5, 2> direct: even kernel, asymmetric padding",
                                                   {.direct = always});
  check_parity<Sequential<Dims3x12x10, Conv<4, 2, 1, Valid>>>("Conv<4, 2, 1, Valid> direct", {.direct = always});
  check_parity<Sequential<Dims3x12x10, Conv<9, 1>>>("Conv<9, 1> direct: two chunks of outputs", {.direct = always});
  check_parity<Sequential<Input<40, 9, 7>, Conv<2, 3>>>("Conv<2, 3> direct: 40 channels in", {.direct = always});
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>, ReLU, Conv<3, 3>, Sigmoid>>(
      "Conv, ReLU (fused pair), Conv, Sigmoid direct", {.direct = always});
  using OuterLayers = Sequential<Input<3, 64, 64>, Conv<32, 3>, ReLU, Conv<3, 3>>;  // ConvNet v1's first and last
  check_parity<OuterLayers>("ConvNet v1's outer layers direct at 64 x 64, batch 4", {.batch = 4, .direct = always});
  // Batch 32: the backward-filter's image groups take two images each (channels first).
  check_parity<Sequential<Input<3, 64, 64>, Conv<32, 3>>>("Conv<32, 3> direct at 64 x 64, batch 32",
                                                          {.batch = 32, .direct = always});
  check_parity<OuterLayers>("ConvNet v1's outer layers direct in tf32 (fp32 kernels: fp32's tolerance)",
                            {.batch = 4, .precision = cuda::Precision::tf32, .direct = always});
  check_parity<OuterLayers, bfloat16>("ConvNet v1's outer layers direct in bf16",
                                      {.batch = 4,
                                       .tolerance = kBf16Tolerance,
                                       .gradient_tolerance = kBf16ReluGradientTolerance,
                                       .direct = always});

  // Which passes run on them: always, the five such passes of a training step; off, none; timed
  // (with the timed search), each such pass timed against cuDNN's choice and checked against it.
  using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, ReLU, Conv<16, 3>, Conv<3, 3>, Sigmoid>;
  for (const auto mode : {always, cuda::DirectConvolutions::off, cuda::DirectConvolutions::timed}) {
    std::string described;
    const auto passes =
        passes_after_one_step<Net>([&](cuda::Context& c) { c.set_direct_convolutions(mode); }, described);
    INFO(described);
    CHECK(passes.chosen == 8);  // three forwards and backward-filters, the last two's backward-data
    if (mode == always) CHECK(passes.on_direct_kernels == 5);  // the first's forward and filter, the last's three
    if (mode == cuda::DirectConvolutions::off) CHECK(passes.on_direct_kernels == 0);
    if (mode == cuda::DirectConvolutions::timed) {
      CHECK(described.find("direct kernel for the forward pass: ") != std::string::npos);
      CHECK(described.find("direct kernel for the backward-filter pass: ") != std::string::npos);
      CHECK(described.find("direct kernel for the backward-data pass: ") != std::string::npos);
      CHECK(described.find("pass: failed") == std::string::npos);
      CHECK(described.find("disagrees with cuDNN") == std::string::npos);  // checked on its trial
      MESSAGE("direct kernels chosen by timing: " << passes.on_direct_kernels << " of 5 passes");
    }
  }
}

namespace {

// cuda::conv2d_forward_relu against the unfused forward (a Model of the convolution alone) and a
// ReLU on the host, on the Model's input, weights and bias.
template <class C>
void check_fused_relu(const char* what, cuda::Precision precision = cuda::Precision::fp32, double tolerance = 1e-5) {
  INFO(std::string(what));
  using Net = Sequential<Dims3x12x10, C>;
  const int batch = 3;
  GpuModel<Net> m(batch, 23);  // raw copies, the same bytes through both paths: any layout
  m.device_context().set_precision(precision);
  // cuDNN's fused call runs the legacy algorithm: the reference forward must too (in TF32 two
  // kernels may round differently); strata's direct kernels (3 input channels) would take the
  // pass from cuDNN altogether.
  m.device_context().set_graph_engines(false);
  m.device_context().set_direct_convolutions(cuda::DirectConvolutions::off);
  const std::size_t in_size = static_cast<std::size_t>(batch) * Net::input_shape::size;
  const std::size_t out_size = static_cast<std::size_t>(batch) * Net::output_shape::size;
  const auto x = random_vector(in_size, 31, -1.0, 1.0);
  Cuda::copy_to_device(m.input(batch).data, x.data(), in_size);
  const auto bias = random_vector(C::output_dims(Net::input_shape::dims).c, 37, -0.5, 0.5);
  const std::size_t weights = Net::parameter_count - bias.size();
  Cuda::copy_to_device(m.parameter_data().data() + weights, bias.data(), bias.size());

  auto expected = to_host(m.forward(batch).data, out_size);
  for (float& v : expected) v = v > 0.0f ? v : 0.0f;
  const Dims in = Net::input_shape::dims, out = Net::output_shape::dims;
  const ConvGeometry g = C::geometry(in);
  cuda::Buffer<float> y(out_size), scratch(cuda::conv2d_scratch_floats(in, out, g, batch, 1));
  const StepInfo step{true, 0, 0, 1, &m.device_context()};
  for (int call = 0; call < 2; ++call) {  // the first call finds whether cuDNN fuses; the second uses that
    const float* params = m.parameter_data().data();
    cuda::conv2d_forward_relu(BasicTensor<const float>{m.input(batch).data, batch, in},
                              BasicTensor<float>{y.data(), batch, out}, params, params + weights, g, scratch.data(),
                              step);
    const auto fused = to_host(y.data(), out_size);
    const cuda::ConvPlan& plan = m.device_context().conv_plan(in, out, g, batch);
    MESSAGE(std::string(what) << ": " << std::string(plan.relu_fusion == cuda::ReluFusion::fused ? "fused by cuDNN" : "unfused fallback")
                 << (plan.relu_fusion == cuda::ReluFusion::unfused ? std::string(" (") + plan.relu_fusion_status + ")"
                                                                  : std::string()));
    CHECK(plan.relu_fusion != cuda::ReluFusion::untried);
    CHECK(relative_difference(fused, expected.data(), out_size) <= tolerance);
    std::size_t negative = 0;
    for (float v : fused) negative += v < 0.0f ? 1 : 0;
    CHECK(negative == 0);
  }
}

}  // namespace

// What nvcc's front end sees, asked where it compiles: it generates device code only for the
// kernels of the paths it believes Model takes, so a Conv + ReLU pair it did not see fused would
// launch kernels that do not exist on the GPU (cudaErrorInvalidDeviceFunction).
using ReluPairNet = Sequential<Input<3, 8, 8>, Conv<4, 3>, ReLU, Conv<3, 3>, Sigmoid>;
static_assert(Model<ReluPairNet, Cuda>::fuses_relu_after(0) && Model<ReluPairNet, Cuda>::fuses_relu_backward_after(0));
static_assert(Model<ReluPairNet, Cuda, bfloat16>::fuses_relu_after(0) &&
              Model<ReluPairNet, Cuda, bfloat16>::fuses_relu_backward_after(0));
static_assert(!Model<ReluPairNet, Cuda>::fuses_relu_after(2));

TEST_CASE("a convolution with its ReLU fused (cudnnConvolutionBiasActivationForward, or the unfused fallback)") {
  check_fused_relu<Conv<8, 3>>("Conv<8, 3>");
  check_fused_relu<Conv<6, 3, 2>>("Conv<6, 3, 2>: explicitly padded");
  check_fused_relu<Conv<5, 2>>("Conv<5, 2>: even kernel");
  check_fused_relu<Conv<4, 2, 1, Valid>>("Conv<4, 2, 1, Valid>");
  check_fused_relu<Conv<8, 3>>("Conv<8, 3> in tf32", cuda::Precision::tf32, 1e-4);
}

TEST_CASE("activations") {
  check_parity<Sequential<Dims3x12x10, ReLU>>("ReLU");
  check_parity<Sequential<Dims3x12x10, LeakyReLU<>>>("LeakyReLU<0.3>");
  check_parity<Sequential<Dims3x12x10, Sigmoid>>("Sigmoid", {.input_low = -8.0, .input_high = 8.0});
  check_parity<Sequential<Dims3x12x10, Tanh>>("Tanh", {.input_low = -3.0, .input_high = 3.0});
}

TEST_CASE("max pooling (ties after a ReLU go to the first maximum) and upsampling") {
  check_parity<Sequential<Dims3x12x12, MaxPool<2>>>("MaxPool<2>");
  check_parity<Sequential<Dims3x12x12, MaxPool<3>>>("MaxPool<3>");
  check_parity<Sequential<Dims3x12x12, ReLU, MaxPool<2>>>("ReLU, MaxPool<2>: whole windows of zeros");
  check_parity<Sequential<Dims3x12x10, Upsample<2>>>("Upsample<2>");
  check_parity<Sequential<Dims3x12x10, Upsample<3>>>("Upsample<3>");
}

namespace {

// The inpainting tests' network, batch, hole and images.
using InpaintingNet = Sequential<Dims3x12x12, Conv<6, 3>, ReLU, Conv<3, 3>, Sigmoid>;
constexpr int kInpaintingBatch = 3;
constexpr BlankRectangle kInpaintingHole{.top = 3, .left = 2, .height = 5, .width = 7, .fill = 0.5f};
std::vector<float> inpainting_images() {
  return random_vector(static_cast<std::size_t>(kInpaintingBatch) * InpaintingNet::input_shape::size, 61, 0.0, 1.0);
}

}  // namespace

TEST_CASE("an inpainting step blanks the input's hole on the device as the CPU does, and trains alike") {
  using Net = InpaintingNet;
  const int batch = kInpaintingBatch;
  const BlankRectangle hole = kInpaintingHole;
  const auto images = inpainting_images();
  Model<Net, Cpu> cpu(batch, 9);
  GpuModel<Net> gpu(batch, 9);
  Adam a_cpu, a_gpu;
  for (int step = 0; step < 3; ++step) {
    const double c = cpu.train_step(images, hole, batch, BinaryCrossEntropy{}, a_cpu);
    const double g = gpu.train_step(images, hole, batch, BinaryCrossEntropy{}, a_gpu);
    INFO("step " << step << ": cpu " << c << ", cuda " << g);
    CHECK(std::abs(g - c) <= 1e-4 * std::abs(c));
  }
  const std::size_t in_size = static_cast<std::size_t>(batch) * Net::input_shape::size;
  const auto input = activations_to_host(gpu, gpu.input(batch));
  REQUIRE(input.size() == in_size);
  CHECK(std::equal(input.begin(), input.end(), cpu.input(batch).data));  // blanked exactly
  const double c = cpu.evaluate(images, hole, batch, BinaryCrossEntropy{});
  const double g = gpu.evaluate(images, hole, batch, BinaryCrossEntropy{});
  CHECK(std::abs(g - c) <= 1e-4 * std::abs(c));
  // The trainer's metrics, summed on the device (output_sums.cuh) against the CPU's sums.
  std::vector<OutputSums> on_cpu(batch), on_gpu(batch);
  cpu.output_sums(hole, on_cpu);
  gpu.output_sums(hole, on_gpu);
  for (int n = 0; n < batch; ++n) {
    INFO("image " << n);
    CHECK(std::abs(on_gpu[n].matching - on_cpu[n].matching) <= 2.0);  // an output within 1e-6 of 0.5 may round apart
    CHECK(on_gpu[n].matching > 0.0);
    CHECK(std::abs(on_gpu[n].l1 - on_cpu[n].l1) <= 1e-4 * on_cpu[n].l1);
    CHECK(std::abs(on_gpu[n].l2 - on_cpu[n].l2) <= 1e-4 * on_cpu[n].l2);
  }
}

TEST_CASE("batch normalization in training and eval, with and without an input gradient") {
  using Net = Sequential<Dims3x12x10, Conv<6, 3>, BatchNorm>;
  check_parity<Net>("Conv, BatchNorm: training (cuDNN's forward in NCHW, strata's channels last)", {.batch = 4});
  check_parity<Net>("Conv, BatchNorm: eval", {.batch = 4, .training = false});
  check_parity<Sequential<Dims3x12x10, BatchNorm>>("BatchNorm first, no input gradient", {.input_gradient = false});
  check_parity<Sequential<Dims3x12x10, BatchNorm>>("BatchNorm eval", {.training = false});
}

TEST_CASE("dropout draws the CPU's mask") {
  check_parity<Sequential<Dims3x12x10, Dropout<30>>>("Dropout<30> training");
  check_parity<Sequential<Dims3x12x10, Dropout<30>>>("Dropout<30> eval", {.training = false});
}

TEST_CASE("a mixed stack of every layer kind") {
  using Variant = Sequential<Input<3, 12, 10>, Conv<6, 3>, BatchNorm, LeakyReLU<>, MaxPool<2>, Conv<8, 3, 2>, Tanh,
                             Dropout<20>, Upsample<2>, Conv<4, 2, 1, Valid>, ReLU, Conv<3, 1>, Sigmoid>;
  check_parity<Variant>("variant, training", {.batch = 4});
  check_parity<Variant>("variant, eval", {.batch = 2, .training = false});
}

// Skip blocks (layers/skip.hpp): a residual block's sum (four values an access where they allow),
// a concatenating block's strided copies in either layout, the gradient set aside and added
// back, nested blocks, a block at the input, a ReLU opening a block after a convolution (not
// fused across its edge); in fp32 and bf16.
TEST_CASE("residual blocks: the skip and its gradient, nested, at the input, in fp32 and bf16") {
  using Net = Sequential<Input<8, 12, 10>, Residual<Conv<8, 3>, ReLU, Conv<8, 3>>, ReLU,
                         Residual<MaxPool<2>, Conv<8, 3>, Residual<ReLU, Conv<8, 1>>, Upsample<2>>, Conv<3, 3>>;
  check_parity<Net>("residual blocks", {.batch = 4});
  check_parity<Net>("residual blocks, eval", {.batch = 2, .training = false});
  check_parity<Sequential<Dims3x12x10, Conv<5, 3>, Residual<ReLU, Conv<5, 3>>>>("a ReLU opening a block",
                                                                                 {.batch = 3});
  check_parity<Net, bfloat16>("residual blocks",
                              {.batch = 4, .tolerance = kBf16Tolerance, .gradient_tolerance = kBf16ReluGradientTolerance});
}

TEST_CASE("concatenating blocks: a small U-Net, Concat at the input and inside a residual block, fp32 and bf16") {
  using UNet = Sequential<Input<3, 16, 12>, Conv<8, 3>, ReLU,
                          Concat<MaxPool<2>, Conv<16, 3>, ReLU, Concat<MaxPool<2>, Conv<16, 3>, ReLU, Upsample<2>>,
                                 Conv<16, 3>, ReLU, Upsample<2>>,
                          Conv<8, 3>, ReLU, Conv<3, 1>, Sigmoid>;
  static_assert(std::is_same_v<UNet::output_shape, Shape<3, 16, 12>>);
  check_parity<UNet>("a U-Net of two levels", {.batch = 3});
  check_parity<Sequential<Dims3x12x10, Concat<Conv<5, 3>, ReLU>, Residual<Concat<Conv<4, 1>>, Conv<8, 1>>>>(
      "Concat at the input, and inside a residual block", {.batch = 2});
  // In bf16, a level of a U-Net whose every discrete choice (the max-pool's) is made on the input,
  // which both sides hold exactly: a U-Net with ReLUs after its convolutions measures their flips,
  // not the copies (the first H200 run: 9.4e-2 output behind its Sigmoid, 2.2e-1 gradients, within
  // bf16_emulation.py's five seeds: outputs 4e-2 to 1.1e-1, gradients up to 3.2e-1). Inside it a
  // nested join of 6 channels (22 and 30 in all: a channels-last row of bf16 values that is no
  // whole number of four-value packs) and a residual block; the emulation: 1.5e-2 at most.
  // The whole U-Net in bf16 is trained below against the CPU's losses.
  check_parity<Sequential<Input<8, 16, 12>,
                          Concat<MaxPool<2>, Conv<16, 3>, Concat<Conv<6, 1>>, Residual<Conv<22, 3>>, Upsample<2>>,
                          Conv<3, 1>>,
               bfloat16>("a U-Net level holding a join of 6 channels and a residual block",
                         {.batch = 3, .tolerance = kBf16Tolerance});
}

// Wider and larger than the cases above: 40 channels (a second, partial tile of the channels-last
// bias gradient's lanes; pooling, upsampling and dropout on more than 3 channels) and 64 x 64
// images at batch 16 (kernels that take several strides over an image), BatchNorm among them.
TEST_CASE("wide layers on large images: 40 channels at 64 x 64, batch 16") {
  using Wide = Sequential<Input<8, 64, 64>, Conv<40, 3>, ReLU, MaxPool<2>, Conv<40, 3>, BatchNorm, Dropout<10>,
                          Upsample<2>, Conv<5, 2>, Sigmoid>;
  check_parity<Wide>("wide, training", {.batch = 16});
}

TEST_CASE("the layout is set before a batch crosses, and then kept") {
  using Net = Sequential<Dims3x12x10, Conv<4, 3>>;
  GpuModel<Net> m(2, 1);
  const auto x = random_vector(2 * Net::input_shape::size, 5, 0.0, 1.0);
  m.device_context().set_channels_last(g_channels_last);  // the same layout again: allowed
  Cuda::copy_batch_to_device(m.input(2), x.data(), m.device_context());
  CHECK_THROWS_AS(m.device_context().set_channels_last(!g_channels_last), std::logic_error);
  CHECK(m.device_context().channels_last() == g_channels_last);
  m.device_context().set_channels_last(g_channels_last);
  CHECK(activations_to_host(m, m.input(2)) == x);  // and the batch reads back as it went in
}

TEST_CASE("losses: value and output gradient, with and without pixel weights") {
  using Net = Sequential<Input<3, 8, 8>, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  Model<Net, Cpu> cpu(batch, 3);
  GpuModel<Net> gpu(batch, 3);
  const auto x = synthetic_images(batch, Net::input_shape::dims, 1);
  const auto y = synthetic_images(batch, Net::output_shape::dims, 2);
  std::vector<float> hole(64, 0.0f);
  for (int i = 2; i < 6; ++i)
    for (int j = 2; j < 6; ++j) hole[i * 8 + j] = 1.0f;
  auto compare = [&](auto loss, const char* what) {
    INFO(std::string(what));
    const double a = cpu.evaluate(x, y, batch, loss);
    const double b = gpu.evaluate(x, y, batch, loss);
    CHECK(std::abs(a - b) <= 1e-5 * std::abs(a));
    const std::size_t n = y.size();
    CHECK(relative_difference(activations_to_host(gpu, gpu.output_gradient()), cpu.output_gradient().data, n) <=
          kFp32Tolerance);
  };
  compare(BinaryCrossEntropy{}, "BCE");
  compare(MeanSquaredError{}, "MSE");
  compare(BinaryCrossEntropy{hole}, "BCE over the hole");
  compare(MeanSquaredError{hole}, "MSE over the hole");
  hole[0] = 0.5f;  // changed weights are uploaded again
  compare(BinaryCrossEntropy{hole}, "BCE, weights changed");
}

TEST_CASE("Adam and SGD with Nesterov momentum update alike") {
  using Net = testing::TinyAutoencoder;
  const int batch = 4;
  const auto x = synthetic_images(batch, Net::input_shape::dims, 4);
  auto run = [&](auto optimizer, const char* what) {
    INFO(std::string(what));
    Model<Net, Cpu> cpu(batch, 5);
    GpuModel<Net> gpu(batch, 5);
    auto o_cpu = optimizer;
    auto o_gpu = optimizer;
    for (int step = 0; step < 3; ++step) {
      const double a = cpu.train_step(x, x, batch, BinaryCrossEntropy{}, o_cpu);
      const double b = gpu.train_step(x, x, batch, BinaryCrossEntropy{}, o_gpu);
      CHECK(std::abs(a - b) <= 1e-5 * std::abs(a));
    }
    const auto params = to_host(gpu.parameter_data().data(), Net::parameter_count);
    CHECK(relative_difference(params, cpu.parameter_data().data(), Net::parameter_count) <= kFp32Tolerance);
    const auto state = to_host(gpu.optimizer_state().data(), 2 * Net::parameter_count);
    CHECK(relative_difference(state, cpu.optimizer_state().data(), state.size()) <= 1e-3);
  };
  run(Adam{.lr = 3e-3f}, "Adam");
  run(Sgd{.lr = 0.05f, .momentum = 0.9f, .nesterov = true, .weight_decay = 1e-4f}, "SGD");
}

TEST_CASE("10 training steps of ConvNet v1 give the same losses on both backends; predict agrees") {
  using Net = testing::ConvNetV1;
  const int batch = 8;
  Model<Net, Cpu> cpu(batch, 1);
  GpuModel<Net> gpu(batch, 1);
  Adam a_cpu, a_gpu;
  for (int step = 0; step < 10; ++step) {
    const auto x = synthetic_images(batch, Net::input_shape::dims, 100 + step);
    const double a = cpu.train_step(x, x, batch, BinaryCrossEntropy{}, a_cpu);
    const double b = gpu.train_step(x, x, batch, BinaryCrossEntropy{}, a_gpu);
    INFO("step " << step << ": cpu " << a << ", cuda " << b);
    CHECK(std::abs(a - b) <= 1e-3 * std::abs(a));
  }
  // A smaller last batch takes new plans; then eval-mode prediction.
  const auto x = synthetic_images(batch, Net::input_shape::dims, 7);
  const auto three = std::span<const float>(x).first(3 * Net::input_shape::size);
  const double a = cpu.train_step(three, three, 3, BinaryCrossEntropy{}, a_cpu);
  const double b = gpu.train_step(three, three, 3, BinaryCrossEntropy{}, a_gpu);
  CHECK(std::abs(a - b) <= 1e-3 * std::abs(a));
  std::vector<float> p_cpu(x.size()), p_gpu(x.size());
  cpu.predict(x, batch, p_cpu);
  gpu.predict(x, batch, p_gpu);
  CHECK(relative_difference(p_gpu, p_cpu, p_cpu.size()) <= 1e-3);
}

TEST_CASE("tf32 convolutions stay within their documented 1e-2") {
  // With graph engines, gradients through the ReLU within 1e-1, as bf16's: their tf32 tensor cores
  // (10-bit mantissa) move some of the first convolution's outputs across zero too (the first
  // H200 run: 5.7e-2 for the input gradient; 1e-2 or less on the legacy algorithms).
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>, ReLU, Conv<32, 3>>>(
      "tf32", {.batch = 8,
               .tolerance = 1e-2,
               .gradient_tolerance = g_graph_engines ? kBf16ReluGradientTolerance : 1e-2,
               .precision = cuda::Precision::tf32});
}

TEST_CASE("a model too large for the GPU is refused with the max_batch that would fit") {
  try {
    Model<testing::ConvNetV1, Cuda> huge(50'000'000, 1);
    FAIL("a 50-million-image batch was accepted");
  } catch (const DeviceOutOfMemory& e) {
    const std::string message = e.what();
    MESSAGE(message);
    CHECK(message.find("max_batch 50000000") != std::string::npos);
    CHECK(message.find("would fit") != std::string::npos);
  }
}

// ---- training steps recorded as CUDA graphs (core/step_graph.hpp, backend/cuda/step_graph.cuh) ----
// (Optimizers outside the anonymous namespace: nvcc would call their step_graphs flags unreferenced.)
namespace graph_test {

// An optimizer that waits for the device in its update, which a CUDA graph cannot record, yet
// claims it can be recorded.
struct WaitingSgd {
  Sgd sgd{.lr = 0.05};
  static constexpr int state_per_parameter = Sgd::state_per_parameter;
  static constexpr bool step_graphs = true;
  template <class Device, class T, class Run>
  void update(T* params, const T* grads, T* state, std::size_t n, const Run& run) {
    T first = 0;
    Device::copy_to_host(&first, params, 1);  // cudaDeviceSynchronize + cudaMemcpy
    sgd.template update<Device>(params, grads, state, n, run);
  }
};

// An optimizer of one's own that does not say it can be recorded (no step_graphs member).
struct OwnSgd {
  Sgd sgd{.lr = 0.05};
  static constexpr int state_per_parameter = Sgd::state_per_parameter;
  template <class Device, class T, class Run>
  void update(T* params, const T* grads, T* state, std::size_t n, const Run& run) {
    sgd.template update<Device>(params, grads, state, n, run);
  }
};

}  // namespace graph_test

namespace {

template <class Net, class T>
void configure(Model<Net, Cuda, T>& m, bool graphs,
               cuda::DirectConvolutions direct = cuda::DirectConvolutions::timed) {
  // Deterministic algorithms chosen by heuristics: the same choice and bit-identical results in
  // every model, so a replayed step can be compared bit for bit with an eager one. (Untimed,
  // DirectConvolutions::timed leaves every pass to cuDNN; `always` gives the direct kernels theirs.)
  m.device_context().set_deterministic(true);
  m.device_context().set_algorithm_search(cuda::AlgorithmSearch::heuristic);
  m.device_context().set_step_graphs(graphs);
  m.device_context().set_direct_convolutions(direct_setting(direct));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <class Net>
std::vector<float> parameters_of(Model<Net, Cuda>& m) {
  return to_host(m.parameter_data().data(), Net::parameter_count);
}
template <class Net>
std::vector<float> optimizer_state_of(Model<Net, Cuda>& m) {
  return to_host(m.optimizer_state().data(), m.optimizer_state().size());
}

}  // namespace

TEST_CASE("CUDA graphs: replayed training steps of ConvNet v1 give the eager steps' weights bit for bit") {
  // With cuDNN alone, and with strata's direct kernels for v1's first and last layers (always).
  for (const auto direct : {cuda::DirectConvolutions::off, cuda::DirectConvolutions::always}) {
    if (direct_setting(direct) != direct) continue;  // --no-direct: the first round was that
    INFO("direct convolutions " << (direct == cuda::DirectConvolutions::always ? "always" : "off"));
    using Net = testing::ConvNetV1;
    const int batch = 8;
    GpuModel<Net> eager(batch, 1), eager_again(batch, 1), graph(batch, 1);
    configure(eager, false, direct);
    configure(eager_again, false, direct);
    configure(graph, true, direct);
    Adam a_eager, a_again, a_graph;
    auto step = [&](std::span<const float> x, int n, int k) {
      const float e = eager.train_step(x, x, n, BinaryCrossEntropy{}, a_eager);
      const float e2 = eager_again.train_step(x, x, n, BinaryCrossEntropy{}, a_again);
      const float g = graph.train_step(x, x, n, BinaryCrossEntropy{}, a_graph);
      INFO("step " << k << " (batch " << n << "): eager " << e << ", eager again " << e2 << ", graph " << g);
      CHECK(e2 == e);
      CHECK(g == e);
    };
    // Batch 8: eager (chooses algorithms), recorded, replayed; then a smaller batch (its own
    // graph), then batch 8 again.
    int k = 0;
    for (; k < 6; ++k) step(synthetic_images(batch, Net::input_shape::dims, 200 + k), batch, k);
    const auto x = synthetic_images(batch, Net::input_shape::dims, 300);
    const auto three = std::span<const float>(x).first(3 * Net::input_shape::size);
    for (int i = 0; i < 3; ++i, ++k) step(three, 3, k);
    step(x, batch, k++);

    const auto& graphs = graph.device_context().step_graph_cache();
    INFO("graph fallback: " << graph.device_context().step_graph_fallback());
    CHECK(graph.device_context().step_graphs());
    CHECK(graphs.captures() == 2);
    CHECK(graphs.replays() == 5 + 2 + 1);  // every step but the first of each batch size
    CHECK(graph.step_count() == eager.step_count());
    CHECK(a_graph.steps == a_eager.steps);
    CHECK_MESSAGE(same_bits(parameters_of(eager_again), parameters_of(eager)),
                  "two eager models differ: cuDNN's deterministic algorithms are not deterministic here, so the "
                  "graph comparison below cannot be bitwise either");
    CHECK(same_bits(parameters_of(graph), parameters_of(eager)));
    CHECK(same_bits(optimizer_state_of(graph), optimizer_state_of(eager)));
    CHECK((graph.device_context().convolution_passes().on_direct_kernels > 0) ==
          (direct == cuda::DirectConvolutions::always));
  }
}

TEST_CASE("CUDA graphs: training steps of a network with skip blocks replay the eager steps bit for bit") {
  // The residual block's sum and copies and the concatenating block's strided copies, recorded.
  using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, ReLU,
                         Concat<MaxPool<2>, Residual<Conv<8, 3>, ReLU, Conv<8, 3>>, Upsample<2>>, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  GpuModel<Net> eager(batch, 1), graph(batch, 1);
  configure(eager, false);
  configure(graph, true);
  Adam a_eager, a_graph;
  for (int k = 0; k < 4; ++k) {
    const auto x = synthetic_images(batch, Net::input_shape::dims, 500 + k);
    const float e = eager.train_step(x, x, batch, BinaryCrossEntropy{}, a_eager);
    const float g = graph.train_step(x, x, batch, BinaryCrossEntropy{}, a_graph);
    INFO("step " << k << ": eager " << e << ", graph " << g);
    CHECK(g == e);
  }
  INFO("graph fallback: " << graph.device_context().step_graph_fallback());
  CHECK(graph.device_context().step_graph_cache().captures() == 1);
  CHECK(graph.device_context().step_graph_cache().replays() == 3);  // every step but the first
  CHECK(same_bits(parameters_of(graph), parameters_of(eager)));
}

TEST_CASE("CUDA graphs: dropout's per-step mask, BatchNorm's statistics, a learning-rate change and a new seed") {
  using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, BatchNorm, ReLU, Dropout<30>, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  GpuModel<Net> eager(batch, 9), graph(batch, 9);
  configure(eager, false);
  configure(graph, true);
  Adam a_eager{.lr = 3e-3}, a_graph{.lr = 3e-3};
  for (int k = 0; k < 8; ++k) {
    if (k == 4) a_eager.lr = a_graph.lr = 1e-3;  // staged per replay, not recorded
    if (k == 5) {
      eager.set_seed(77);
      graph.set_seed(77);
    }
    if (k == 6) {
      eager.set_step_count(1000);
      graph.set_step_count(1000);
    }
    const auto x = synthetic_images(batch, Net::input_shape::dims, 400 + k);
    const double e = eager.train_step(x, x, batch, BinaryCrossEntropy{}, a_eager);
    const double g = graph.train_step(x, x, batch, BinaryCrossEntropy{}, a_graph);
    INFO("step " << k << ": eager " << e << ", graph " << g);
    CHECK(std::abs(g - e) <= 1e-6 * std::abs(e));
  }
  CHECK(graph.device_context().step_graph_cache().replays() == 7);
  CHECK(relative_difference(parameters_of(graph), parameters_of(eager).data(), Net::parameter_count) <= 1e-6);
  const auto b_graph = to_host(graph.buffer_data().data(), Net::buffer_count);
  CHECK(relative_difference(b_graph, to_host(eager.buffer_data().data(), Net::buffer_count).data(), Net::buffer_count) <=
        1e-6);
}

TEST_CASE("CUDA graphs: a non-finite replayed step throws the eager path's error and changes nothing") {
  using Net = testing::ConvNetV1;
  const int batch = 4;
  GpuModel<Net> eager(batch, 3), graph(batch, 3);
  configure(eager, false);
  configure(graph, true);
  Adam a_eager, a_graph;
  const auto good = synthetic_images(batch, Net::input_shape::dims, 500);
  for (int k = 0; k < 2; ++k) {  // eager, then recorded: every later step is a replay
    eager.train_step(good, good, batch, BinaryCrossEntropy{}, a_eager);
    graph.train_step(good, good, batch, BinaryCrossEntropy{}, a_graph);
  }
  REQUIRE(graph.device_context().step_graph_cache().captures() == 1);

  // The kind each case is reported as. A NaN pixel hides behind ReLU on the CPU (a gradient is
  // the first non-finite value), but cuDNN's fused convolution + bias + ReLU passes NaN on
  // whatever the activation descriptor's NaN option says: where the first layer runs fused (as
  // with this cuDNN), the loss is; where cuDNN refuses, strata's pass hides it as on the CPU.
  auto rejected = [&](const std::vector<float>& x, const std::vector<float>& y, std::vector<NonFiniteKind> kinds,
                      const std::string& what) {
    INFO(std::string(what));
    const auto params = parameters_of(graph);
    const auto state = optimizer_state_of(graph);
    const std::uint64_t steps = graph.step_count(), adam_steps = a_graph.steps;
    const std::uint64_t replays = graph.device_context().step_graph_cache().replays();
    std::string eager_message;
    try {
      eager.train_step(x, y, batch, BinaryCrossEntropy{}, a_eager);
      FAIL("the eager step was accepted");
    } catch (const NonFiniteError& e) {
      eager_message = e.what();
    }
    try {
      graph.train_step(x, y, batch, BinaryCrossEntropy{}, a_graph);
      FAIL("the replayed step was accepted");
    } catch (const NonFiniteError& e) {
      MESSAGE(std::string(e.what()));
      CHECK(std::find(kinds.begin(), kinds.end(), e.kind()) != kinds.end());
      CHECK(std::string(e.what()) == eager_message);
    }
    CHECK(graph.device_context().step_graph_cache().replays() == replays + 1);
    CHECK(same_bits(parameters_of(graph), params));
    CHECK(same_bits(optimizer_state_of(graph), state));
    CHECK(graph.step_count() == steps);
    CHECK(a_graph.steps == adam_steps);
  };
  auto nan_input = good;
  nan_input[5] = std::nanf("");
  rejected(nan_input, good, {NonFiniteKind::loss, NonFiniteKind::gradient}, "a NaN pixel");
  auto nan_target = good;
  nan_target[7] = std::nanf("");
  rejected(good, nan_target, {NonFiniteKind::loss}, "a NaN target");
  const float nan = std::nanf("");
  float saved = 0;
  Cuda::copy_to_host(&saved, graph.parameter_data().data() + 10, 1);
  Cuda::copy_to_device(graph.parameter_data().data() + 10, &nan, 1);
  Cuda::copy_to_device(eager.parameter_data().data() + 10, &nan, 1);
  rejected(good, good, {NonFiniteKind::weights}, "a NaN weight");
  Cuda::copy_to_device(graph.parameter_data().data() + 10, &saved, 1);
  Cuda::copy_to_device(eager.parameter_data().data() + 10, &saved, 1);

  // Training goes on from the same state.
  const double e = eager.train_step(good, good, batch, BinaryCrossEntropy{}, a_eager);
  const double g = graph.train_step(good, good, batch, BinaryCrossEntropy{}, a_graph);
  CHECK(g == e);
  CHECK(same_bits(parameters_of(graph), parameters_of(eager)));
  CHECK(graph.device_context().step_graphs());
}

TEST_CASE("CUDA graphs: a rejected replay puts BatchNorm's running statistics back") {
  using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, BatchNorm, ReLU, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  GpuModel<Net> graph(batch, 2);
  configure(graph, true);
  Adam adam;
  const auto x = synthetic_images(batch, Net::input_shape::dims, 600);
  graph.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  graph.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  const auto buffers = to_host(graph.buffer_data().data(), Net::buffer_count);
  auto y = x;
  y[0] = std::nanf("");
  CHECK_THROWS_AS(graph.train_step(x, y, batch, BinaryCrossEntropy{}, adam), NonFiniteError);
  CHECK(same_bits(to_host(graph.buffer_data().data(), Net::buffer_count), buffers));
  CHECK(graph.device_context().step_graph_cache().replays() == 2);
}

TEST_CASE("CUDA graphs: an optimizer that does not say it can be recorded runs eagerly") {
  using Net = testing::TinyAutoencoder;
  const int batch = 4;
  GpuModel<Net> graph(batch, 5);
  configure(graph, true);
  graph_test::OwnSgd own;
  const auto x = synthetic_images(batch, Net::input_shape::dims, 800);
  for (int k = 0; k < 3; ++k) graph.train_step(x, x, batch, BinaryCrossEntropy{}, own);
  CHECK(graph.device_context().step_graphs());
  CHECK(graph.device_context().step_graph_fallback().empty());
  CHECK(graph.device_context().step_graph_cache().captures() == 0);
  CHECK(own.sgd.steps == 3);
}

TEST_CASE("CUDA graphs: a step that cannot be recorded runs eagerly and graphs turn off, saying why") {
  using Net = testing::TinyAutoencoder;
  const int batch = 4;
  GpuModel<Net> eager(batch, 5), graph(batch, 5);
  configure(eager, false);
  configure(graph, true);
  graph_test::WaitingSgd o_eager, o_graph;
  for (int k = 0; k < 3; ++k) {
    const auto x = synthetic_images(batch, Net::input_shape::dims, 700 + k);
    const double e = eager.train_step(x, x, batch, BinaryCrossEntropy{}, o_eager);
    const double g = graph.train_step(x, x, batch, BinaryCrossEntropy{}, o_graph);
    CHECK(g == e);
  }
  const std::string reason = graph.device_context().step_graph_fallback();
  MESSAGE("fallback: " << reason);
  CHECK_FALSE(graph.device_context().step_graphs());
  CHECK(reason.find("recording the training step") != std::string::npos);
  CHECK(graph.device_context().step_graph_cache().replays() == 0);
  CHECK(same_bits(parameters_of(graph), parameters_of(eager)));
  CHECK(o_graph.sgd.steps == o_eager.sgd.steps);
}

namespace {

// Batches from page-locked host memory cross without the pinned staging (a bfloat16 model's are
// rounded on the device): the same values on the device, the same losses and predictions, bit
// for bit, as from pageable memory. The input is cudaMallocHost memory, the second target
// ordinary memory page-locked by Cuda::lock_host_memory (as the trainer locks its batches).
template <class T>
void check_page_locked_batches() {
  using Net = Sequential<Dims3x12x10, Conv<8, 3>, ReLU, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  const std::size_t n = static_cast<std::size_t>(batch) * Net::input_shape::size;
  const auto x = random_vector(n, 81, 0.0, 1.0);
  const auto y = random_vector(n, 82, 0.0, 1.0);
  cuda::PinnedBuffer<float> locked_x(n), locked_out(n);
  std::copy(x.begin(), x.end(), locked_x.data());
  constexpr std::size_t kPage = 4096;  // whole pages: no other allocation shares the locked ones
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  const std::unique_ptr<float, Free> registered_y(
      static_cast<float*>(std::aligned_alloc(kPage, (n * sizeof(float) + kPage - 1) / kPage * kPage)));
  std::copy(y.begin(), y.end(), registered_y.get());
  const std::shared_ptr<void> lock = Cuda::lock_host_memory(std::span<float>(registered_y.get(), n));
  REQUIRE(lock != nullptr);
  const std::span<const float> px(locked_x.data(), n), py(registered_y.get(), n);
  auto locked_values = [&] { return std::vector<float>(locked_out.data(), locked_out.data() + n); };

  GpuModel<Net, T> pageable(batch, 3), locked(batch, 3);
  configure(pageable, false);  // the same algorithms in both
  configure(locked, false);
  // The copies alone: up one way, back the other; direct_copies says which way each went.
  Cuda::copy_batch_to_device(pageable.input(batch), x.data(), pageable.device_context());
  Cuda::copy_batch_to_device(locked.input(batch), px.data(), locked.device_context());
  std::vector<float> back(n);
  Cuda::copy_batch_to_host(back.data(), BasicTensor<const T>(locked.input(batch)), locked.device_context());
  CHECK(same_bits(back, is_bfloat16<T> ? rounded_to_bf16(x) : x));
  Cuda::copy_batch_to_host(locked_out.data(), BasicTensor<const T>(pageable.input(batch)), pageable.device_context());
  CHECK(same_bits(locked_values(), back));
  CHECK(pageable.device_context().direct_copies() == 1);  // the download into locked_out
  CHECK(locked.device_context().direct_copies() == 1);    // the upload from locked_x

  Adam a, b;
  for (int step = 0; step < 3; ++step) {  // step 1 has a target of its own, uploaded during the forward pass
    const float p = pageable.train_step(x, step == 1 ? y : x, batch, BinaryCrossEntropy{}, a);
    const float q = locked.train_step(px, step == 1 ? py : px, batch, BinaryCrossEntropy{}, b);
    INFO("step " << step << ": pageable " << p << ", page-locked " << q);
    CHECK(std::memcmp(&p, &q, sizeof p) == 0);
  }
  pageable.predict(x, batch, back);
  locked.predict(px, batch, std::span<float>(locked_out.data(), n));
  CHECK(same_bits(locked_values(), back));
  // Steps 0 and 2 one upload each, step 1 two (input and registered target), the prediction
  // its input and output; the pageable model none of them.
  CHECK(locked.device_context().direct_copies() == 1 + 4 + 2);
  CHECK(pageable.device_context().direct_copies() == 1);
}

}  // namespace

TEST_CASE("batches from page-locked host memory skip the staging and give the same steps bit for bit") {
  check_page_locked_batches<float>();
}

namespace {

// Batches sent ahead (Model::upload_ahead, during the step before theirs, as the trainer sends
// them) give the steps, bit for bit, of batches uploaded by train_step itself, eagerly and
// replayed as graphs; the copies are used (uploads_from_ahead); a copy sent ahead whose batch
// does not come next is not used; pageable memory is refused.
template <class T>
void check_batches_sent_ahead() {
  using Net = Sequential<Dims3x12x10, Conv<8, 3>, ReLU, MaxPool<2>, Upsample<2>, Conv<3, 3>, Sigmoid>;
  const int batch = 4, steps = 6;
  const std::size_t n = static_cast<std::size_t>(batch) * Net::input_shape::size;
  std::vector<cuda::PinnedBuffer<float>> batches;
  for (int k = 0; k < 3; ++k) {
    const auto values = random_vector(n, 90 + k, 0.0, 1.0);
    batches.emplace_back(n);
    std::copy(values.begin(), values.end(), batches.back().data());
  }
  auto images = [&](int step) { return std::span<const float>(batches[step % 3].data(), n); };
  const BlankRectangle hole{.top = 2, .left = 3, .height = 4, .width = 5, .fill = 0.5f};

  for (const bool graphs : {false, true}) {
    INFO("graphs: " << graphs);
    GpuModel<Net, T> plain(batch, 4), ahead(batch, 4);
    configure(plain, graphs);
    configure(ahead, graphs);
    Adam a, b;
    for (int step = 0; step < steps; ++step) {
      const float p = plain.train_step(images(step), hole, batch, BinaryCrossEntropy{}, a);
      // During step 2 the batch of step 4 is sent instead of step 3's: step 3 uploads its own,
      // and step 4 takes the copy sent again during step 3.
      const int next = step == 2 ? 4 : step + 1;
      if (step + 1 < steps) CHECK(ahead.upload_ahead(images(next)));
      const float q = ahead.train_step(images(step), hole, batch, BinaryCrossEntropy{}, b);
      INFO("step " << step << ": uploaded " << p << ", sent ahead " << q);
      CHECK(std::memcmp(&p, &q, sizeof p) == 0);
    }
    CHECK(same_bits(to_host(plain.parameter_data().data(), Net::parameter_count),
                    to_host(ahead.parameter_data().data(), Net::parameter_count)));
    // Steps 1, 2, 4 and 5 took their batch from a copy sent ahead; step 3's was another batch's.
    CHECK(ahead.device_context().uploads_from_ahead() == 4);
    CHECK(plain.device_context().uploads_from_ahead() == 0);
    std::vector<float> pageable(images(0).begin(), images(0).end());
    CHECK_FALSE(ahead.upload_ahead(pageable));
  }
  // Steps with a target of their own upload two batches each; the input sent ahead is still taken.
  GpuModel<Net, T> m(batch, 4);
  configure(m, false);
  Adam adam;
  for (int step = 0; step < 3; ++step) {
    if (step + 1 < 3) CHECK(m.upload_ahead(images(step + 1)));
    m.train_step(images(step), images(step + 2), batch, BinaryCrossEntropy{}, adam);
  }
  CHECK(m.device_context().uploads_from_ahead() == 2);
}

}  // namespace

TEST_CASE("batches sent ahead during the previous step give the same steps bit for bit") {
  check_batches_sent_ahead<float>();
}

#ifdef STRATA_CUDA_TEST_TRAINER
namespace {

namespace fs = std::filesystem;

using testing::TrainerNet;  // the trainer tests' network (tests/train/trainer.cpp), dropout included

struct TrainerData {
  data::ImageSet train = data::procedural_images(44, 0, 16);  // 6 batches of 8, the last of 4
  data::ImageSet validation = data::procedural_images(12, 1000, 16);
};

// graphs: train with CUDA graphs on (Cuda only); replays: where to put how many steps were replayed.
template <class Device>
train::TrainingResult train_tiny(const TrainerData& d, const fs::path& run, int epochs, bool resume, std::ostream& log,
                                 std::function<bool()> stop = {}, bool graphs = false,
                                 std::uint64_t* replays = nullptr) {
  train::TrainerConfig c = testing::trainer_config(run, epochs);
  c.resume = resume;
  c.stop_requested = std::move(stop);
  train::Trainer<TrainerNet, Device> trainer(c, d.train, d.validation, log);
  if constexpr (std::is_same_v<Device, Cuda>) {
    trainer.model().device_context().set_channels_last(g_channels_last);
    trainer.model().device_context().set_graph_engines(g_graph_engines);
    trainer.model().device_context().set_step_graphs(graphs);
  }
  train::TrainingResult result = trainer.run();
  if constexpr (std::is_same_v<Device, Cuda>) {
    if (replays != nullptr) *replays = trainer.model().device_context().step_graph_cache().replays();
    // The trainer page-locks its batch buffers: its batches cross without the staging copy, and
    // each but an epoch's (and a validation's) first during the step before its own.
    CHECK(trainer.model().device_context().direct_copies() > 0);
    CHECK(trainer.model().device_context().uploads_from_ahead() > 0);
  }
  return result;
}

double relative(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-12); }

std::vector<float> weights_of(const fs::path& file) {
  const io::SafetensorsFile f = io::read_safetensors(file);
  std::vector<float> all;
  for (const auto& t : f.tensors) {
    const auto v = f.floats(t.name);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

fs::path fresh_folder(const char* name) {
  const fs::path root = fs::temp_directory_path() / "strata_cuda_test_trainer" / name;
  fs::remove_all(root);
  return root;
}

}  // namespace

TEST_CASE("Trainer<Net, Cuda>: one epoch on procedural images gives the CPU's losses") {
  const TrainerData d;
  const fs::path root = fresh_folder("one_epoch");
  std::ostringstream log;
  const auto cpu = train_tiny<Cpu>(d, root / "cpu", 1, false, log);
  const auto gpu = train_tiny<Cuda>(d, root / "cuda", 1, false, log);
  INFO(log.str());
  REQUIRE(cpu.history.size() == 1);
  REQUIRE(gpu.history.size() == 1);
  CHECK(gpu.epochs_done == 1);
  const auto& a = cpu.history[0];
  const auto& b = gpu.history[0];
  INFO("validation loss: cpu " << a.validation.loss << ", cuda " << b.validation.loss);
  CHECK(relative(b.validation.loss, a.validation.loss) <= 1e-3);
  CHECK(relative(b.train.loss, a.train.loss) <= 1e-3);
  CHECK(relative(b.validation.hole_psnr, a.validation.hole_psnr) <= 1e-3);
  // The metrics the GPU sums per image (output_sums.cuh), in training and validation.
  CHECK(relative(b.train.hole_psnr, a.train.hole_psnr) <= 1e-3);
  CHECK(relative(b.train.hole_l1, a.train.hole_l1) <= 1e-3);
  CHECK(std::abs(b.train.accuracy - a.train.accuracy) <= 1e-3);
  CHECK(std::abs(b.validation.accuracy - a.validation.accuracy) <= 1e-3);
  const auto w_cpu = weights_of(root / "cpu" / "model.safetensors");
  const auto w_gpu = weights_of(root / "cuda" / "model.safetensors");
  REQUIRE(w_gpu.size() == w_cpu.size());
  CHECK(relative_difference(w_gpu, w_cpu, w_cpu.size()) <= 1e-3);
  for (const char* file : {"summary.txt", "history.csv", "curves.png", "samples_epoch001.png", "best.safetensors",
                           "checkpoint.safetensors", "initial.safetensors"})
    CHECK_MESSAGE(fs::exists(root / "cuda" / file), file);
}

TEST_CASE("Trainer<Net, Cuda> with CUDA graphs: two epochs (dropout, validation between, a smaller last batch)") {
  const TrainerData d;
  const fs::path root = fresh_folder("graphs");
  std::ostringstream log;
  const auto eager = train_tiny<Cuda>(d, root / "eager", 2, false, log);
  std::uint64_t replays = 0;
  const auto graph = train_tiny<Cuda>(d, root / "graph", 2, false, log, {}, true, &replays);
  INFO(log.str());
  REQUIRE(graph.history.size() == 2);
  // Batches of 8 replay from the second step of epoch 1; the last batch of 4 from epoch 2.
  CHECK(replays == 4 + 5 + 1);
  for (int e = 0; e < 2; ++e) {
    INFO("epoch " << e + 1 << ": eager " << eager.history[e].validation.loss << ", graph "
                  << graph.history[e].validation.loss);
    // Not bit for bit: the trainer lets cuDNN pick non-deterministic algorithms.
    CHECK(relative(graph.history[e].validation.loss, eager.history[e].validation.loss) <= 1e-4);
    CHECK(relative(graph.history[e].train.loss, eager.history[e].train.loss) <= 1e-4);
    // The metrics of replayed steps, summed on the device from the graph's output.
    CHECK(relative(graph.history[e].train.hole_psnr, eager.history[e].train.hole_psnr) <= 1e-4);
    CHECK(std::abs(graph.history[e].train.accuracy - eager.history[e].train.accuracy) <= 1e-4);
  }
}

TEST_CASE("Trainer<Net, Cuda> resumes: after a stop in mid-epoch, and from a checkpoint written on the CPU") {
  const TrainerData d;
  const fs::path root = fresh_folder("resume");
  std::ostringstream log;
  const auto straight = train_tiny<Cuda>(d, root / "straight", 2, false, log);
  REQUIRE(straight.history.size() == 2);

  // Stopped after the third batch of epoch 1 (a checkpoint in mid-epoch), then resumed to epoch 2.
  int batches = 0;
  const auto stopped = train_tiny<Cuda>(d, root / "stopped", 2, false, log, [&] { return ++batches == 3; });
  CHECK(stopped.interrupted);
  CHECK(stopped.epochs_done == 0);
  const auto resumed = train_tiny<Cuda>(d, root / "stopped", 2, true, log);
  INFO(log.str());
  CHECK(log.str().find("epoch 1, after batch 3") != std::string::npos);
  CHECK_FALSE(resumed.interrupted);
  REQUIRE(resumed.history.size() == 2);
  CHECK(resumed.epochs_done == 2);
  // cuDNN may choose other algorithms in another process: the same run within fp32 tolerance.
  for (int e = 0; e < 2; ++e) {
    INFO("epoch " << e + 1 << ": straight " << straight.history[e].validation.loss << ", resumed "
                  << resumed.history[e].validation.loss);
    CHECK(relative(resumed.history[e].validation.loss, straight.history[e].validation.loss) <= 1e-3);
  }
  const auto w_straight = weights_of(root / "straight" / "model.safetensors");
  const auto w_resumed = weights_of(root / "stopped" / "model.safetensors");
  REQUIRE(w_resumed.size() == w_straight.size());
  CHECK(relative_difference(w_resumed, w_straight, w_straight.size()) <= 1e-3);

  // Epoch 1 on the CPU, epoch 2 on the GPU: checkpoints do not depend on the device.
  const auto cpu_first = train_tiny<Cpu>(d, root / "mixed", 1, false, log);
  REQUIRE(cpu_first.epochs_done == 1);
  const auto mixed = train_tiny<Cuda>(d, root / "mixed", 2, true, log);
  REQUIRE(mixed.history.size() == 2);
  const auto cpu_straight = train_tiny<Cpu>(d, root / "cpu", 2, false, log);
  REQUIRE(cpu_straight.history.size() == 2);
  INFO("epoch 2: cpu " << cpu_straight.history[1].validation.loss << ", cpu then cuda "
                       << mixed.history[1].validation.loss);
  CHECK(relative(mixed.history[0].validation.loss, cpu_straight.history[0].validation.loss) <= 1e-8);  // CSV: %.9g
  CHECK(relative(mixed.history[1].validation.loss, cpu_straight.history[1].validation.loss) <= 1e-3);
}
#endif  // STRATA_CUDA_TEST_TRAINER

// ---- bf16 activations, last: a fault in their kernels (never yet run on a GPU) cannot take
// the fp32 results above with it ----

TEST_CASE("bf16 activations: every layer kind within kBf16Tolerance of the CPU's fp32 (gradients through a ReLU 1e-1)") {
  constexpr ParityOptions bf16{.tolerance = kBf16Tolerance};
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>>, bfloat16>("Conv<8, 3>", bf16);
  check_parity<Sequential<Dims3x12x10, Conv<6, 3, 2>>, bfloat16>("Conv<6, 3, 2>: explicitly padded", bf16);
  check_parity<Sequential<Dims3x12x10, Conv<5, 2>>, bfloat16>("Conv<5, 2>: even kernel", bf16);
  check_parity<Sequential<Dims3x12x10, Conv<8, 3>, ReLU, Conv<4, 3>>, bfloat16>(
      "Conv, ReLU (fused pair), Conv", {.tolerance = kBf16Tolerance, .gradient_tolerance = kBf16ReluGradientTolerance});
  check_parity<Sequential<Input<32, 32, 32>, Conv<64, 3>, Conv<32, 3>>, bfloat16>(
      "Conv<64, 3>, Conv<32, 3> at 32x32x32, batch 8", {.batch = 8, .tolerance = kBf16Tolerance});
  check_parity<Sequential<Dims3x12x12, ReLU, MaxPool<2>, Upsample<2>>, bfloat16>("ReLU, MaxPool<2>, Upsample<2>",
                                                                                 bf16);
  // Rows and channels multiples of 4: the element-wise kernels' four-value accesses (packed.hpp),
  // the ReLU and the max-pool deciding on the input, exact on both sides (after a convolution,
  // their flips measured 2.7e-1 on the first H200 run, within the emulation's 1.4e-1 to 3.6e-1).
  check_parity<Sequential<Input<8, 16, 16>, ReLU, MaxPool<2>, Upsample<2>, Conv<8, 3>>, bfloat16>(
      "ReLU, MaxPool<2>, Upsample<2>, Conv on 8 x 16 x 16: four values an access", bf16);
  check_parity<Sequential<Dims3x12x10, Sigmoid>, bfloat16>(
      "Sigmoid", {.input_low = -8.0, .input_high = 8.0, .tolerance = kBf16Tolerance});
  check_parity<Sequential<Dims3x12x10, Conv<6, 3>, BatchNorm>, bfloat16>(
      "Conv, BatchNorm: training (cuDNN forward)", {.batch = 4, .tolerance = kBf16Tolerance});
  check_parity<Sequential<Dims3x12x10, Conv<6, 3>, BatchNorm>, bfloat16>(
      "Conv, BatchNorm: eval", {.batch = 4, .training = false, .tolerance = kBf16Tolerance});
  check_parity<Sequential<Dims3x12x10, Dropout<30>>, bfloat16>("Dropout<30> training", bf16);
}

// 10 training steps of Net in bf16 within 1e-2 of the CPU's losses; a prediction with the GPU's
// weights on both sides within kBf16Tolerance (separate training runs drift: see kBf16Tolerance).
template <class Net>
void check_bf16_training(const char* what, int batch) {
  Model<Net, Cpu> cpu(batch, 1);
  GpuModel<Net, bfloat16> gpu(batch, 1);
  Adam a_cpu, a_gpu;
  double worst = 0.0;
  for (int step = 0; step < 10; ++step) {
    const auto x = synthetic_images(batch, Net::input_shape::dims, 100 + step);
    const double a = cpu.train_step(x, x, batch, BinaryCrossEntropy{}, a_cpu);
    const double b = gpu.train_step(x, x, batch, BinaryCrossEntropy{}, a_gpu);
    INFO(std::string(what) << ", step " << step << ": cpu " << a << ", cuda bf16 " << b);
    worst = std::max(worst, std::abs(a - b) / std::abs(a));
    CHECK(std::abs(a - b) <= kBf16LossTolerance * std::abs(a));
  }
  const auto x = synthetic_images(batch, Net::input_shape::dims, 7);
  Cuda::copy_to_host(cpu.parameter_data().data(), gpu.parameter_data().data(), Net::parameter_count);
  std::vector<float> p_cpu(x.size()), p_gpu(x.size());
  cpu.predict(x, batch, p_cpu);
  gpu.predict(x, batch, p_gpu);
  const double prediction = relative_difference(p_gpu, p_cpu, p_cpu.size());
  MESSAGE(std::string(what) << " in bf16: worst relative loss difference over 10 steps " << worst
               << ", prediction with equal weights " << prediction);
  CHECK(prediction <= kBf16Tolerance);
}

TEST_CASE("bf16 activations: 10 training steps of ConvNet v1 and its U-Net within 1e-2 of the CPU's losses") {
  check_bf16_training<testing::ConvNetV1>("ConvNet v1", 8);
  check_bf16_training<inpainting::ConvNetV1UNet>("ConvNet v1 with U-Net skips", 4);  // the CPU's side takes most
}

TEST_CASE("bf16 activations keep fp32 master weights: updates far below a bf16 step accumulate") {
  // With a learning rate of 1e-6, Adam moves each weight by about 1e-6 a step: bf16 weights
  // (7-bit mantissa) would not move at all, or by a whole bf16 step (8e-4 at 0.2).
  using Net = Sequential<Dims3x12x10, Conv<8, 3>, ReLU, Conv<3, 3>, Sigmoid>;
  const int batch = 4;
  GpuModel<Net, bfloat16> gpu(batch, 5);
  const auto before = to_host(gpu.parameter_data().data(), Net::parameter_count);
  Adam adam;
  adam.lr = 1e-6;
  const auto x = random_vector(static_cast<std::size_t>(batch) * Net::input_shape::size, 71, 0.0, 1.0);
  for (int step = 0; step < 3; ++step) gpu.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  const auto after = to_host(gpu.parameter_data().data(), Net::parameter_count);
  std::size_t large = 0, moved_finely = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (std::abs(before[i]) < 0.05f) continue;  // biases start at 0; tiny weights have tiny bf16 steps
    ++large;
    const double change = std::abs(static_cast<double>(after[i]) - before[i]);
    const double bf16_step = std::ldexp(1.0, std::ilogb(before[i]) - 7);
    if (change > 0.0 && change < bf16_step / 16) ++moved_finely;
  }
  INFO(moved_finely << " of " << large << " weights above 0.05 moved by less than 1/16 of a bf16 step");
  CHECK(large > 100);
  CHECK(moved_finely > large * 9 / 10);
}

TEST_CASE("bf16 activations: the inpainting step's blanked input is the CPU's, rounded; graphs replay eager steps") {
  using Net = InpaintingNet;
  const int batch = kInpaintingBatch;
  const BlankRectangle hole = kInpaintingHole;
  const auto images = inpainting_images();
  Model<Net, Cpu> cpu(batch, 9);
  GpuModel<Net, bfloat16> eager(batch, 9), graph(batch, 9);
  configure(eager, false);
  configure(graph, true);
  Adam a_cpu, a_eager, a_graph;
  for (int step = 0; step < 4; ++step) {
    const double c = cpu.train_step(images, hole, batch, BinaryCrossEntropy{}, a_cpu);
    const float e = eager.train_step(images, hole, batch, BinaryCrossEntropy{}, a_eager);
    const float g = graph.train_step(images, hole, batch, BinaryCrossEntropy{}, a_graph);
    INFO("step " << step << ": cpu " << c << ", bf16 eager " << e << ", bf16 graph " << g);
    CHECK(std::abs(e - c) <= kBf16LossTolerance * std::abs(c));
    CHECK(g == e);
  }
  INFO("graph fallback: " << graph.device_context().step_graph_fallback());
  CHECK(graph.device_context().step_graph_cache().replays() == 3);  // every step but the first
  const auto eager_weights = to_host(eager.parameter_data().data(), Net::parameter_count);
  const auto graph_weights = to_host(graph.parameter_data().data(), Net::parameter_count);
  CHECK(std::memcmp(eager_weights.data(), graph_weights.data(), eager_weights.size() * sizeof(float)) == 0);
  const std::size_t in_size = static_cast<std::size_t>(batch) * Net::input_shape::size;
  const auto input = activations_to_host(eager, eager.input(batch));
  const auto expected = rounded_to_bf16(std::vector<float>(cpu.input(batch).data, cpu.input(batch).data + in_size));
  CHECK(input == expected);
}

TEST_CASE("bf16 activations: batches from page-locked host memory are rounded on the device, bit for bit") {
  check_page_locked_batches<bfloat16>();
}

TEST_CASE("bf16 activations: batches sent ahead give the same steps bit for bit") {
  check_batches_sent_ahead<bfloat16>();
}

int main(int argc, char** argv) {
  // --channels-last, --graph-engines and --no-direct are ours; doctest sees the rest.
  std::vector<char*> args(argv, argv + argc);
  auto take_flag = [&args](const char* flag) {
    const auto at = std::find_if(args.begin(), args.end(), [flag](const char* a) { return std::strcmp(a, flag) == 0; });
    if (at == args.end()) return false;
    args.erase(at);
    return true;
  };
  g_channels_last = take_flag("--channels-last");
  g_graph_engines = take_flag("--graph-engines");
  g_no_direct = take_flag("--no-direct");
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("CUDA runtime tests: skipped, no GPU\n");
    return 0;
  }
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess)
    std::printf("CUDA runtime tests on %s (compute capability %d.%d), cuDNN %zu\n", properties.name,
                properties.major, properties.minor, cudnnGetVersion());
#ifndef STRATA_CUDA_TEST_TRAINER
  std::printf("CUDA trainer tests: not built (they need stb: build through CMake where strata::images is found)\n");
#endif
  std::printf("Activations: %s%s%s\n", g_channels_last ? "channels last (NHWC)" : "channels first (NCHW)",
              g_graph_engines ? "; convolutions consider cuDNN's graph-API engines" : "",
              g_no_direct ? "; no direct convolution kernels (--no-direct)" : "");
  doctest::Context context(static_cast<int>(args.size()), args.data());
  const int result = context.run();
  std::printf("CUDA runtime tests (%s%s%s): %s\n", g_channels_last ? "channels last" : "channels first",
              g_graph_engines ? ", graph engines" : "", g_no_direct ? ", no direct kernels" : "",
              result == 0 ? "passed" : "FAILED");
  return result;
}
