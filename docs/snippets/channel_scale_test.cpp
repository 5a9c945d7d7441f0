// docs/snippets/channel_scale_test.cpp: the tests of docs/adding-a-layer.md's ChannelScale, as a
// layer's test file in tests/layers/ is written (doctest, tests/support/gradient_check.hpp).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <type_traits>
#include <vector>

#include "channel_scale.hpp"
#include "support/gradient_check.hpp"

using namespace strata;

// [test]
// The shape rule and the parameter count, at compile time.
using ScaledNet = Sequential<Input<3, 8, 8>, Conv<4, 3>, ChannelScale, ReLU, Conv<3, 1>, ChannelScale>;
static_assert(std::is_same_v<ScaledNet::output_shape, Shape<3, 8, 8>>);
static_assert(ScaledNet::parameter_sizes[1] == 4 && ScaledNet::parameter_sizes[4] == 3);

TEST_CASE("ChannelScale multiplies each channel by its weight") {
  Model<Sequential<Input<2, 1, 2>, ChannelScale>, Cpu> model(1, 1);
  model.parameter_data()[0] = 2.0f;   // weight[0]
  model.parameter_data()[1] = -1.0f;  // weight[1]
  auto x = model.input(1);
  for (int i = 0; i < 4; ++i) x.data[i] = static_cast<float>(i + 1);
  const auto y = model.forward(1);
  const std::vector<float> expected{2, 4, -3, -4};
  for (int i = 0; i < 4; ++i) CHECK(y.data[i] == expected[i]);
}

TEST_CASE("ChannelScale gradients match finite differences") {
  // In double on the CPU: input and weight gradients against central differences, then the
  // same weights in float against double.
  testing::check_gradients<Sequential<Input<3, 4, 5>, ChannelScale>>({.batch = 2});
  testing::check_gradients<ScaledNet>({.batch = 2});
}

TEST_CASE("A network with ChannelScale trains") {
  Model<ScaledNet, Cpu> model(4, 1);
  Adam adam{.lr = 1e-2};
  std::vector<float> x(4 * ScaledNet::input_shape::size), y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(i % 7) / 7.0f;
    y[i] = 0.5f * x[i];
  }
  const float first = model.train_step(x, y, 4, MeanSquaredError{}, adam);
  float last = first;
  for (int step = 0; step < 20; ++step) last = model.train_step(x, y, 4, MeanSquaredError{}, adam);
  CHECK(last < first);
  CHECK(model.parameters()[2].name == "1.channel_scale.weight");
}
// [test]
