// Tests for strata/model/model.hpp: whole-network gradients, learning, determinism, the
// one-call API's argument checks, and no heap allocation inside a training step.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include <strata/strata.hpp>

#include "support/allocation_counter.hpp"
#include "support/gradient_check.hpp"
#include "support/networks.hpp"
#include "support/synthetic_images.hpp"

using namespace strata;
using testing::ConvNetV1;
using testing::TinyAutoencoder;
using testing::synthetic_images;

namespace {

using Variant = Sequential<Input<3, 12, 10>, Conv<6, 3>, BatchNorm, LeakyReLU<>, MaxPool<2>, Conv<8, 3, 2>, Tanh,
                           Dropout<20>, Upsample<2>, Conv<4, 2, 1, Valid>, ReLU, Conv<3, 1>, Sigmoid>;

}  // namespace

TEST_CASE("whole networks: gradients match finite differences, float matches double") {
  testing::check_gradients<TinyAutoencoder>({.batch = 2, .input_low = 0.0, .max_checked = 150});
  testing::check_gradients<Variant>({.batch = 3, .max_checked = 150});
  testing::check_gradients<Variant>({.batch = 2, .training = false, .max_checked = 100});
}

TEST_CASE("a small autoencoder drives BCE well below its starting value") {
  const int batch = 8;
  Model<TinyAutoencoder, Cpu> model(batch, 1);
  Adam adam{.lr = 3e-3f};
  const auto x = synthetic_images(batch, TinyAutoencoder::input_shape::dims, 5);
  // Targets are the images themselves; BCE cannot go below their entropy, so measure the excess.
  double floor = 0.0;
  for (float t : x) floor += elementwise::binary_cross_entropy<double>(t, t);
  floor /= x.size();
  const double first = model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  double last = first;
  for (int step = 0; step < 300; ++step) last = model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  MESSAGE("BCE " << first << " -> " << last << " (floor " << floor << ")");
  CHECK(last - floor < 0.25 * (first - floor));
}

TEST_CASE("initialisation is a function of the seed; He-uniform on request") {
  Model<ConvNetV1, Cpu> a(1, 7), b(1, 7), c(1, 8);
  CHECK(std::equal(a.parameter_data().begin(), a.parameter_data().end(), b.parameter_data().begin()));
  CHECK(!std::equal(a.parameter_data().begin(), a.parameter_data().end(), c.parameter_data().begin()));
  CHECK(a.parameters().size() == 14);
  CHECK(a.parameters()[0].name == "0.conv.weight");
  CHECK(a.parameters()[13].name == "16.conv.bias");
  CHECK(a.parameters()[13].shape == std::vector<int>{3});

  Model<ConvNetV1, Cpu> he(1, 7, ModelOptions{.init = Init::he_uniform});
  const auto& w = he.parameters()[2];  // 2.conv.weight: fan_in 32 * 9
  REQUIRE(w.name == "2.conv.weight");
  float max_abs = 0.0f;
  for (std::size_t i = 0; i < w.size; ++i) max_abs = std::max(max_abs, std::abs(w.data[i]));
  CHECK(max_abs <= std::sqrt(6.0f / (32 * 9)));
  CHECK(max_abs > 0.95f * std::sqrt(6.0f / (32 * 9)));
}

TEST_CASE("training is deterministic for a seed and a thread count; thread counts agree closely") {
  const int batch = 4;
  const auto x = synthetic_images(batch, TinyAutoencoder::input_shape::dims, 3);
  auto train = [&](int threads) {
    Model<TinyAutoencoder, Cpu> model(batch, 11, ModelOptions{.threads = threads});
    Adam adam;
    for (int i = 0; i < 5; ++i) model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
    return std::vector<float>(model.parameter_data().begin(), model.parameter_data().end());
  };
  const auto two = train(2);
  CHECK(train(2) == two);
  const auto one = train(1);
  CHECK(testing::relative_difference(one, two, one.size()) < 1e-4);
}

TEST_CASE("predict runs in eval mode and returns the network's output") {
  using Net = Sequential<Input<3, 8, 8>, Conv<4, 3>, Dropout<50>, Sigmoid>;
  Model<Net, Cpu> model(2, 1);
  const auto x = synthetic_images(2, Net::input_shape::dims, 1);
  std::vector<float> first(2 * Net::output_shape::size), second(first.size());
  model.predict(x, 2, first);
  model.predict(x, 2, second);
  CHECK(first == second);
  CHECK(model.is_training());  // predict restores the mode
  model.eval();
  std::copy(x.begin(), x.end(), model.input(2).data);
  const auto y = model.forward(2);
  CHECK(std::vector<float>(y.data, y.data + first.size()) == first);
}

TEST_CASE("predict and evaluate run a few images at a time through the stack: the whole batch's outputs, bit for bit") {
  // Skip blocks (a Residual at the input, a Concat), BatchNorm, Dropout and fused Conv + ReLU
  // pairs on 2 threads: predict and evaluate run batch 5 as groups of 2, 2 and 1 images.
  using Net = Sequential<Input<3, 12, 10>, Residual<Conv<3, 3>, ReLU, Conv<3, 3>>, Conv<6, 3>, BatchNorm, ReLU,
                         Concat<MaxPool<2>, Conv<8, 3>, ReLU, Upsample<2>>, Dropout<30>, Conv<3, 1>, Sigmoid>;
  const int batch = 5;
  const std::size_t image = Net::output_shape::size;
  Model<Net, Cpu> model(batch, 7, ModelOptions{.threads = 2});
  Adam adam;
  const auto x = synthetic_images(batch, Net::input_shape::dims, 3);
  model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);  // moves BatchNorm's running statistics
  std::vector<float> grouped(batch * image);
  model.predict(x, batch, grouped);
  CHECK_THROWS_WITH_AS(model.backward(model.output_gradient()), doctest::Contains("keeps only the output"),
                       std::logic_error);

  model.eval();
  std::copy(x.begin(), x.end(), model.input(batch).data);
  const auto whole = model.forward(batch);  // every layer over the whole batch
  CHECK(std::vector<float>(whole.data, whole.data + grouped.size()) == grouped);
  for (int n = 0; n < batch; ++n) {  // and one image at a time
    std::vector<float> alone(image);
    model.predict(std::span<const float>(x).subspan(n * Net::input_shape::size, Net::input_shape::size), 1, alone);
    CHECK(std::equal(alone.begin(), alone.end(), grouped.begin() + static_cast<std::ptrdiff_t>(n * image)));
  }
  const float loss = model.evaluate(x, x, batch, BinaryCrossEntropy{});
  CHECK(std::vector<float>(model.output().data, model.output().data + grouped.size()) == grouped);
  double expected = 0.0;
  for (std::size_t i = 0; i < grouped.size(); ++i)
    expected -= x[i] * std::log(double{grouped[i]}) + (1.0 - x[i]) * std::log(1.0 - grouped[i]);
  CHECK(loss == doctest::Approx(expected / static_cast<double>(grouped.size())).epsilon(1e-5));
}

TEST_CASE("wrong sizes and batches are rejected with what was expected") {
  Model<TinyAutoencoder, Cpu> model(4, 1);
  Adam adam;
  const std::size_t sample = TinyAutoencoder::input_shape::size;
  std::vector<float> x(4 * sample, 0.5f), y(4 * sample, 0.5f), out(4 * sample);
  CHECK_THROWS_WITH_AS(model.train_step(x, y, 5, BinaryCrossEntropy{}, adam), doctest::Contains("batch must be in 1..4"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.train_step(x, y, 0, BinaryCrossEntropy{}, adam), doctest::Contains("got 0"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.train_step(std::span<const float>(x).first(3 * sample + 1), y, 3, BinaryCrossEntropy{}, adam),
                       doctest::Contains("x must hold batch x 3x16x16 = 2304 values, got 2305"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(model.predict(x, 4, std::span<float>(out).first(10)), doctest::Contains("out must hold"),
                       std::invalid_argument);
  CHECK_THROWS_AS((Model<TinyAutoencoder, Cpu>(0, 1)), std::invalid_argument);
  CHECK_THROWS_AS(model.set_threads(64), std::invalid_argument);
  CHECK(adam.steps == 0);  // nothing was applied
}

TEST_CASE("train_step and evaluate on whole images with a blanked rectangle are those of a blanked copy, bit for bit") {
  const int batch = 3;
  using Dims3x16x16 = TinyAutoencoder::input_shape;
  const BlankRectangle hole{.top = 4, .left = 5, .height = 6, .width = 7, .fill = 0.25f};
  const auto images = synthetic_images(batch, Dims3x16x16::dims, 41);
  auto blanked = images;
  for (int n = 0; n < batch; ++n)
    for (int c = 0; c < 3; ++c)
      for (int y = hole.top; y < hole.top + hole.height; ++y)
        for (int x = hole.left; x < hole.left + hole.width; ++x)
          blanked[((static_cast<std::size_t>(n) * 3 + c) * 16 + y) * 16 + x] = hole.fill;
  Model<TinyAutoencoder, Cpu> on_device(batch, 5), on_host(batch, 5);
  Adam a_device, a_host;
  for (int step = 0; step < 3; ++step) {
    const float d = on_device.train_step(images, hole, batch, BinaryCrossEntropy{}, a_device);
    const float h = on_host.train_step(blanked, images, batch, BinaryCrossEntropy{}, a_host);
    CHECK(d == h);
  }
  CHECK(std::equal(on_device.parameter_data().begin(), on_device.parameter_data().end(),
                   on_host.parameter_data().begin()));
  // The model's input is the blanked copy; the target stayed whole.
  CHECK(std::equal(blanked.begin(), blanked.end(), on_device.input(batch).data));
  CHECK(on_device.evaluate(images, hole, batch, BinaryCrossEntropy{}) ==
        on_host.evaluate(blanked, images, batch, BinaryCrossEntropy{}));
}

TEST_CASE("a blanked rectangle outside the image, or a model whose output is not its input's shape, is refused") {
  Model<TinyAutoencoder, Cpu> model(2, 1);
  Adam adam;
  const std::vector<float> images(2 * TinyAutoencoder::input_shape::size, 0.5f);
  CHECK_THROWS_WITH_AS(model.train_step(images, BlankRectangle{.top = 10, .left = 0, .height = 8, .width = 4}, 2,
                                        BinaryCrossEntropy{}, adam),
                       doctest::Contains("the blanked rectangle 8x4 at (10, 0) does not fit in a 16x16 image"),
                       std::invalid_argument);
  CHECK_THROWS_AS(model.evaluate(images, BlankRectangle{}, 2, BinaryCrossEntropy{}), std::invalid_argument);
  using Shrinking = Sequential<Input<3, 16, 16>, Conv<3, 3>, MaxPool<2>, Sigmoid>;
  Model<Shrinking, Cpu> shrinking(2, 1);
  CHECK_THROWS_WITH_AS(shrinking.train_step(images, BlankRectangle{.top = 0, .left = 0, .height = 2, .width = 2}, 2,
                                            BinaryCrossEntropy{}, adam),
                       doctest::Contains("needs an output of the input's shape"), std::invalid_argument);
  CHECK(adam.steps == 0);
}

TEST_CASE("a non-finite loss throws before any weight changes") {
  Model<TinyAutoencoder, Cpu> model(2, 1);
  Adam adam;
  const std::size_t n = 2 * TinyAutoencoder::input_shape::size;
  std::vector<float> x(n, 0.5f), y(n, 0.5f);
  y[17] = std::nanf("");
  const std::vector<float> before(model.parameter_data().begin(), model.parameter_data().end());
  CHECK_THROWS_WITH_AS(model.train_step(x, y, 2, BinaryCrossEntropy{}, adam),
                       doctest::Contains("the loss is not finite at training step 1"), NonFiniteError);
  CHECK(std::equal(before.begin(), before.end(), model.parameter_data().begin()));
  CHECK(adam.steps == 0);
}

TEST_CASE("a NaN input that ReLU hides from the loss is caught in the gradients and named") {
  Model<TinyAutoencoder, Cpu> model(2, 1);
  Adam adam;
  const std::size_t n = 2 * TinyAutoencoder::input_shape::size;
  std::vector<float> x(n, 0.5f), y(n, 0.5f);
  x[100] = std::nanf("");
  const std::vector<float> before(model.parameter_data().begin(), model.parameter_data().end());
  try {
    model.train_step(x, y, 2, BinaryCrossEntropy{}, adam);
    FAIL("a NaN input must not train");
  } catch (const NonFiniteError& e) {
    CHECK(e.kind() == NonFiniteKind::gradient);
    CHECK(std::isfinite(e.loss()));
    CHECK(e.step() == 1);
    CHECK(e.origin() == "the input batch (1 values)");
    CHECK(std::string(e.what()).find("a parameter gradient is not finite at training step 1") != std::string::npos);
  }
  CHECK(std::equal(before.begin(), before.end(), model.parameter_data().begin()));
  CHECK(adam.steps == 0);
  CHECK(model.step_count() == 0);
}

TEST_CASE("non-finite values from finite weights are traced to the first layer whose output went bad") {
  Model<TinyAutoencoder, Cpu> model(2, 1);
  Adam adam;
  const std::size_t n = 2 * TinyAutoencoder::input_shape::size;
  std::vector<float> x(n, 0.5f), y(n, 0.5f);
  // Finite but huge weights for one filter of the first convolution: 9 taps x 0.5 x 3e38
  // overflows to infinity in layer 0's output, and the layers after it turn that into NaN.
  const auto& weight = model.parameters()[0];
  REQUIRE(weight.name == "0.conv.weight");
  for (int k = 0; k < 9; ++k) weight.data[k] = 3e38f;
  CHECK_THROWS_WITH_AS(model.train_step(x, y, 2, BinaryCrossEntropy{}, adam),
                       doctest::Contains("first non-finite values: the output of layer 0 (Conv<8, 3>"),
                       NonFiniteError);
  CHECK(adam.steps == 0);
}

TEST_CASE("a NaN weight, which ReLU would hide from the loss and the gradients, stops training before the step") {
  Model<TinyAutoencoder, Cpu> model(2, 1);
  Adam adam;
  const std::size_t n = 2 * TinyAutoencoder::input_shape::size;
  std::vector<float> x(n, 0.5f), y(n, 0.5f);
  model.parameters()[0].data[5] = std::nanf("");
  try {
    model.train_step(x, y, 2, BinaryCrossEntropy{}, adam);
    FAIL("a NaN weight must not train");
  } catch (const NonFiniteError& e) {
    CHECK(e.kind() == NonFiniteKind::weights);
    CHECK(e.origin() == "the weights 0.conv.weight (1 values)");
    CHECK(std::string(e.what()).find("the weights are not finite before training step 1") != std::string::npos);
  }
  CHECK(adam.steps == 0);
  CHECK(model.step_count() == 0);
}

TEST_CASE("a finite forward pass with an overflowing gradient names the gradient tensor") {
  // y = w1 * w0 * x: with w0 = 1e-37 and w1 = 3e37 the output is 3 and the loss finite, but the
  // gradient reaching layer 0 is w1 * dL/dy, which overflows float.
  using Net = Sequential<Input<1, 4, 4>, Conv<1, 1>, Conv<1, 1>>;
  Model<Net, Cpu> model(1, 1);
  Adam adam;
  model.parameters()[0].data[0] = 1e-37f;
  model.parameters()[2].data[0] = 3e37f;
  std::vector<float> x(16, 1.0f), y(16, -100.0f);
  try {
    model.train_step(x, y, 1, MeanSquaredError{}, adam);
    FAIL("an infinite gradient must not train");
  } catch (const NonFiniteError& e) {
    CHECK(e.kind() == NonFiniteKind::gradient);
    CHECK(e.origin() == "the gradient of 0.conv.bias (1 values)");
  }
  CHECK(adam.steps == 0);
}

TEST_CASE("a non-finite loss leaves BatchNorm's running statistics and the step count as they were") {
  using Net = Sequential<Input<3, 8, 8>, Conv<4, 3>, BatchNorm, ReLU, Conv<3, 3>, Sigmoid>;
  Model<Net, Cpu> model(2, 1);
  Adam adam;
  const std::size_t n = 2 * Net::input_shape::size;
  std::vector<float> x(n, 0.5f), y(n, 0.5f);
  model.train_step(x, y, 2, BinaryCrossEntropy{}, adam);
  const std::vector<float> buffers(model.buffer_data().begin(), model.buffer_data().end());
  // A NaN target: the forward pass is finite and moves the statistics, the loss is not.
  y[3] = std::numeric_limits<float>::quiet_NaN();
  x[5] = 0.9f;
  CHECK_THROWS_AS(model.train_step(x, y, 2, BinaryCrossEntropy{}, adam), NonFiniteError);
  CHECK(std::equal(buffers.begin(), buffers.end(), model.buffer_data().begin()));
  CHECK(model.step_count() == 1);
}

TEST_CASE("a training step of ConvNet v1 allocates nothing on the heap") {
  if (!testing::allocation_counting_available) {
    MESSAGE("allocation counting unavailable in this build (sanitizer); skipped");
    return;
  }
  const int batch = 4;
  Model<ConvNetV1, Cpu> model(batch, 1, ModelOptions{.threads = 2});
  Adam adam;
  const auto x = synthetic_images(batch, ConvNetV1::input_shape::dims, 2);
  std::vector<float> out(x.size());
  model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);  // warm-up: OpenMP starts its threads
  model.predict(x, batch, out);
  testing::start_counting_allocations();
  model.train_step(x, x, batch, BinaryCrossEntropy{}, adam);
  const auto three = std::span<const float>(x).first(3 * ConvNetV1::input_shape::size);
  model.train_step(three, three, 3, BinaryCrossEntropy{}, adam);  // a smaller last batch
  model.predict(x, batch, out);
  const auto counted = testing::stop_counting_allocations();
  CHECK(counted.calls == 0);
  CHECK(counted.bytes == 0);
}

namespace {

// The same function twice: with ReLU right after each convolution (fused into it on the CPU),
// and with a Dropout<0> (the identity, in training too) in between, which stops the fusion.
template <class... Gap>
using FusionNet = Sequential<Input<3, 16, 32>, Conv<8, 3>, Gap..., ReLU, MaxPool<2>, Conv<16, 3>, Gap..., ReLU,
                             Upsample<2>, Conv<8, 3>, Gap..., ReLU, Conv<3, 3>, Sigmoid>;

template <class T>
std::size_t count_different(std::span<const T> a, std::span<const T> b) {
  std::size_t different = 0;
  for (std::size_t i = 0; i < a.size(); ++i) different += a[i] == b[i] ? 0 : 1;
  return different;
}

template <class T>
void check_fusion_changes_nothing() {
  using Fused = Model<FusionNet<>, Cpu, T>;
  using Unfused = Model<FusionNet<Dropout<0>>, Cpu, T>;
  static_assert(Fused::fuses_relu_after(0) && Fused::fuses_relu_after(3) && Fused::fuses_relu_after(6));
  static_assert(!Fused::fuses_relu_after(1) && !Fused::fuses_relu_after(9) && !Fused::fuses_relu_after(10));
  static_assert(!Unfused::fuses_relu_after(0));
  static_assert(Fused::fuses_relu_backward_after(0) && !Fused::fuses_relu_backward_after(1));
  const int batch = 3;
  Fused fused(batch, 4, ModelOptions{.threads = 2});
  Unfused unfused(batch, 4, ModelOptions{.threads = 2});
  REQUIRE(count_different<T>(fused.parameter_data(), unfused.parameter_data()) == 0);
  const std::size_t n = batch * FusionNet<>::input_shape::size;
  std::vector<T> x(n), y(n), out_fused(n), out_unfused(n);
  SplitMix rng(9);
  for (T& v : x) v = static_cast<T>(rng.uniform());
  for (T& v : y) v = static_cast<T>(rng.uniform());
  Adam adam_fused, adam_unfused;
  for (int step = 0; step < 3; ++step) {
    const T a = fused.train_step(x, y, batch, BinaryCrossEntropy{}, adam_fused);
    const T b = unfused.train_step(x, y, batch, BinaryCrossEntropy{}, adam_unfused);
    CHECK(a == b);
  }
  CHECK(count_different<T>(fused.parameter_data(), unfused.parameter_data()) == 0);
  fused.predict(x, batch, out_fused);
  unfused.predict(x, batch, out_unfused);
  CHECK(count_different<T>(out_fused, out_unfused) == 0);
}

}  // namespace

TEST_CASE("a Conv followed by ReLU runs as one pass each way on the CPU and trains exactly as the two layers do") {
  check_fusion_changes_nothing<float>();   // rows 32 and 16 wide: the AVX-512 implicit-GEMM epilogue
  check_fusion_changes_nothing<double>();  // im2col + Eigen, then the ReLU over each image
}

TEST_CASE("fused pairs first and last in the stack: the input gradient and the output are those of the two layers") {
  // Conv + ReLU at index 0 (its input gradient goes to the input-gradient buffer) and a ReLU as
  // the last layer (its gradient is the loss gradient itself): the gradient-buffer assignment's
  // edge cases.
  using Fused = Sequential<Input<2, 8, 16>, Conv<4, 3>, ReLU, Conv<3, 3>, ReLU>;
  using Unfused = Sequential<Input<2, 8, 16>, Conv<4, 3>, Dropout<0>, ReLU, Conv<3, 3>, Dropout<0>, ReLU>;
  static_assert(Model<Fused, Cpu>::fuses_relu_after(0) && Model<Fused, Cpu>::fuses_relu_after(2));
  const int batch = 2;
  const ModelOptions options{.threads = 2, .input_gradient = true};
  Model<Fused, Cpu> fused(batch, 6, options);
  Model<Unfused, Cpu> unfused(batch, 6, options);
  const std::size_t n = batch * Fused::input_shape::size, m = batch * Fused::output_shape::size;
  std::vector<float> x(n), target(m);
  SplitMix rng(3);
  for (float& v : x) v = static_cast<float>(rng.uniform() - 0.3);
  for (float& v : target) v = static_cast<float>(rng.uniform());
  Adam adam_fused, adam_unfused;
  CHECK(fused.train_step(x, target, batch, MeanSquaredError{}, adam_fused) ==
        unfused.train_step(x, target, batch, MeanSquaredError{}, adam_unfused));
  const auto a = fused.input_gradient(), b = unfused.input_gradient();
  REQUIRE(a.size() == b.size());
  CHECK(count_different<float>({a.data, a.size()}, {b.data, b.size()}) == 0);
  CHECK(count_different<float>(fused.gradient_data(), unfused.gradient_data()) == 0);
  std::vector<float> out_fused(m), out_unfused(m);
  fused.predict(x, batch, out_fused);
  unfused.predict(x, batch, out_unfused);
  CHECK(count_different<float>(out_fused, out_unfused) == 0);
  // On one thread predict runs a group per image, the last pair writing the network's output.
  fused.set_threads(1);
  unfused.set_threads(1);
  fused.predict(x, batch, out_fused);
  unfused.predict(x, batch, out_unfused);
  CHECK(count_different<float>(out_fused, out_unfused) == 0);
}
