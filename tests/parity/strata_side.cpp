// tests/parity/strata_side.cpp: strata's half of the PyTorch parity test.
//
//   strata_parity_side ARCH OUT_DIR [STEPS] [f32|f64]
// trains ARCH for STEPS Adam steps (BCE, batch 8) from seed 42 on generated masked images and
// writes to OUT_DIR:
//   initial.safetensors  the starting weights and buffers (float32; both libraries start here)
//   batches.safetensors  input.K and target.K for every step K (float32)
//   result.safetensors   output0 (the first training forward pass), losses (every step), and
//                        final.NAME (weights and buffers after the last step)
// With f64 the model runs in double and also writes steps.safetensors: at steps 0, 1, 9 and 19 the
// exact state before the step (K.before.NAME weights and buffers, K.m.NAME and K.v.NAME Adam
// moments), the step's loss (K.loss), gradients (K.grad.NAME) and the state after it
// (K.after.NAME), all in float64, so PyTorch can redo each of those steps from the same state.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <strata/data/batches.hpp>
#include <strata/data/procedural.hpp>
#include <strata/io/weights.hpp>
#include <strata/strata.hpp>

#include "../../examples/inpainting/architectures.hpp"

using namespace strata;
namespace fs = std::filesystem;

namespace {

// examples/inpainting/architectures.hpp has no network with a Residual block: this one has one at
// the input (its marker is the first layer), one at full resolution, and one after pooling whose
// block holds a Concat.
struct Skips {
  static constexpr const char* name = "skips";
  using network = Sequential<Input<3, 64, 64>, Residual<Conv<3, 3>, ReLU, Conv<3, 3>>, Conv<16, 3>, ReLU,
                             Residual<Conv<16, 3>, ReLU, Conv<16, 3>>, ReLU, MaxPool<2>,
                             Residual<Conv<16, 3>, ReLU, Concat<Conv<8, 1>>, Conv<16, 1>>, Upsample<2>, Conv<3, 3>,
                             Sigmoid>;
};

// The networks torch_parity.py has twins of.
using ParityArchitectures = inpainting::ArchitectureList<inpainting::V1, inpainting::V2, inpainting::V1BatchNorm,
                                                        inpainting::V1UNet, Skips>;

constexpr int kBatch = 8;
const std::set<int> kCheckedSteps{0, 1, 9, 19};

// Keeps copies of tensors alive until they are written.
struct Tensors {
  std::vector<std::vector<float>> floats;
  std::vector<std::vector<double>> doubles;
  std::vector<io::TensorToWrite> list;

  Tensors() {
    floats.reserve(4096);
    doubles.reserve(4096);
  }
  template <class T>
  void add(const std::string& name, std::vector<std::int64_t> shape, const T* data, std::size_t n, bool as_double) {
    if (as_double) {
      doubles.emplace_back(data, data + n);
      list.push_back({name, std::move(shape), {}, doubles.back()});
    } else {
      floats.emplace_back(data, data + n);
      list.push_back({name, std::move(shape), floats.back()});
    }
  }
  // Weights and buffers (prefix + name), or a per-parameter slice of a flat buffer.
  template <class M, class T>
  void add_state(const std::string& prefix, M& model, bool as_double) {
    for (const auto* list_of : {&model.parameters(), &model.buffers()})
      for (const auto& t : *list_of) add(prefix + t.name, {t.shape.begin(), t.shape.end()}, t.data, t.size, as_double);
  }
  template <class M, class T>
  void add_per_parameter(const std::string& prefix, M& model, const T* flat, bool as_double) {
    for (const auto& t : model.parameters())
      add(prefix + t.name, {t.shape.begin(), t.shape.end()}, flat + t.offset, t.size, as_double);
  }
};

template <class Net, class T>
void run(const fs::path& out, int steps) {
  constexpr bool f64 = std::is_same_v<T, double>;
  Model<Net, Cpu, T> model(kBatch, /*seed=*/42, ModelOptions{.threads = 2});
  {
    // Round the initial weights to float: both libraries start from exactly these values.
    Tensors initial;
    initial.add_state<Model<Net, Cpu, T>, T>("", model, false);
    std::size_t k = 0;
    for (const auto* list : {&model.parameters(), &model.buffers()})
      for (const auto& t : *list) std::copy(initial.floats[k].begin(), initial.floats[k].end(), t.data), ++k;
    io::write_safetensors(out / "initial.safetensors", initial.list);
  }

  const data::ImageSet images = data::procedural_images(static_cast<std::size_t>(kBatch) * steps, 7, 64);
  const std::size_t floats = static_cast<std::size_t>(kBatch) * Net::input_shape::size;
  std::vector<std::vector<float>> inputs(steps), targets(steps);
  Tensors batches;
  for (int k = 0; k < steps; ++k) {
    inputs[k].resize(floats);
    targets[k].resize(floats);
    std::vector<std::size_t> index(kBatch);
    for (int n = 0; n < kBatch; ++n) index[n] = static_cast<std::size_t>(k) * kBatch + n;
    data::fill_batch(images, index, data::Hole{}, inputs[k].data(), targets[k].data());
    batches.list.push_back({"input." + std::to_string(k), {kBatch, 3, 64, 64}, inputs[k]});
    batches.list.push_back({"target." + std::to_string(k), {kBatch, 3, 64, 64}, targets[k]});
  }
  io::write_safetensors(out / "batches.safetensors", batches.list);

  Adam adam{};
  std::vector<T> losses;
  std::vector<float> output0(floats);
  Tensors checked;
  const T* m = model.optimizer_state().data();
  const T* v = m + Model<Net, Cpu, T>::parameter_count;
  for (int k = 0; k < steps; ++k) {
    const bool record = f64 && kCheckedSteps.count(k) > 0;
    const std::string step = std::to_string(k) + ".";
    if (record) {
      checked.add_state<Model<Net, Cpu, T>, T>(step + "before.", model, true);
      checked.add_per_parameter(step + "m.", model, m, true);
      checked.add_per_parameter(step + "v.", model, v, true);
    }
    const std::vector<T> x(inputs[k].begin(), inputs[k].end()), y(targets[k].begin(), targets[k].end());
    losses.push_back(model.train_step(x, y, kBatch, BinaryCrossEntropy{}, adam));
    if (k == 0) std::copy(model.output().data, model.output().data + floats, output0.begin());
    if (record) {
      checked.add(step + "loss", {1}, &losses.back(), 1, true);
      checked.add_per_parameter(step + "grad.", model, model.gradient_data().data(), true);
      checked.add_state<Model<Net, Cpu, T>, T>(step + "after.", model, true);
    }
  }
  if (f64) io::write_safetensors(out / "steps.safetensors", checked.list);

  Tensors result;
  result.add("output0", {kBatch, 3, 64, 64}, output0.data(), output0.size(), false);
  result.add("losses", {static_cast<std::int64_t>(losses.size())}, losses.data(), losses.size(), f64);
  result.add_state<Model<Net, Cpu, T>, T>("final.", model, false);
  io::write_safetensors(out / "result.safetensors", result.list);
  std::printf("%s: %d steps in %s, loss %.6f -> %.6f\n", out.string().c_str(), steps, f64 ? "float64" : "float32",
              static_cast<double>(losses.front()), static_cast<double>(losses.back()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: strata_parity_side ARCH OUT_DIR [STEPS] [f32|f64]\n");
    return 2;
  }
  const std::string arch = argv[1];
  const fs::path out = argv[2];
  const int steps = argc > 3 ? std::stoi(argv[3]) : 20;
  const bool f64 = argc > 4 && std::string(argv[4]) == "f64";
  fs::create_directories(out);
  const bool known = ParityArchitectures::visit(arch, [&]<class Net>() {
    if (f64) run<Net, double>(out, steps);
    else run<Net, float>(out, steps);
  });
  if (!known) {
    std::fprintf(stderr, "no parity test for %s; choose among %s\n", arch.c_str(),
                 ParityArchitectures::names().c_str());
    return 2;
  }
  return 0;
}
