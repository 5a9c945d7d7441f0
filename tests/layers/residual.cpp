// Tests for strata/layers/residual.hpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <strata/strata.hpp>

#include "support/fixed_batch.hpp"
#include "support/gradient_check.hpp"

using namespace strata;

namespace {

using Block = Residual<Conv<8, 3>, ReLU, Conv<8, 3>>;
using Plain = Sequential<Input<8, 6, 6>, Block>;
// Flattened: ResidualInput, Conv, ReLU, Conv, ResidualAdd<4>.
static_assert(Plain::layer_count == 5);
static_assert(std::is_same_v<Plain::layers, type_list<ResidualInput, Conv<8, 3>, ReLU, Conv<8, 3>, ResidualAdd<4>>>);
static_assert(std::is_same_v<Plain::output_shape, Shape<8, 6, 6>>);
static_assert(Plain::parameter_count == 2 * (8 * 8 * 9 + 8));
// The ResidualInput's output is its input's memory: not counted twice.
static_assert(Plain::activation_bytes_per_sample == 4 * 8 * 6 * 6 * sizeof(float));

// Nested blocks each find their own input; a block inside a Repeat repeats whole.
using Nested = Sequential<Input<4, 8, 8>, Residual<Conv<4, 3>, Residual<ReLU, Conv<4, 3>>, ReLU>,
                          Repeat<2, Residual<Conv<4, 1>>>>;
static_assert(std::is_same_v<Nested::layers,
                             type_list<ResidualInput, Conv<4, 3>, ResidualInput, ReLU, Conv<4, 3>, ResidualAdd<3>, ReLU,
                                       ResidualAdd<7>, ResidualInput, Conv<4, 1>, ResidualAdd<2>, ResidualInput,
                                       Conv<4, 1>, ResidualAdd<2>>>);

// A ReLU that opens a block is not fused into the convolution before it: the block's input is
// the convolution's output, before the ReLU.
using ReluFirst = Sequential<Input<3, 8, 8>, Conv<4, 3>, Residual<ReLU, Conv<4, 3>>>;
static_assert(!Model<ReluFirst, Cpu>::fuses_relu_after(0));
static_assert(Model<Plain, Cpu>::fuses_relu_after(1));  // inside a block, pairs fuse as anywhere

}  // namespace

TEST_CASE("Residual adds the block's input to its output; the gradient takes both ways") {
  using Net = Sequential<Input<1, 1, 2>, Residual<ReLU>>;
  Model<Net, Cpu> model(1, 1, ModelOptions{.input_gradient = true});
  model.input(1).data[0] = -1.0f;
  model.input(1).data[1] = 2.0f;
  const auto y = model.forward(1);
  CHECK(y.data[0] == -1.0f);  // -1 + relu(-1)
  CHECK(y.data[1] == 4.0f);   // 2 + relu(2)
  auto g = model.output_gradient();
  g.data[0] = 3.0f;
  g.data[1] = 5.0f;
  model.backward(g);
  CHECK(model.input_gradient().data[0] == 3.0f);   // the skip only: the ReLU stops it
  CHECK(model.input_gradient().data[1] == 10.0f);  // both ways
}

TEST_CASE("Residual gradients match finite differences") {
  // After a fused Conv + ReLU pair, with pairs fused inside the block and a ReLU after it.
  testing::check_gradients<Sequential<Input<3, 6, 5>, Conv<4, 3>, ReLU, Residual<Conv<4, 3>, ReLU, Conv<4, 3>>, ReLU,
                                      Conv<2, 1>>>({.batch = 2});
  // At the network's input (its gradient is the skip's plus the block's), ending in a fused pair.
  testing::check_gradients<Sequential<Input<4, 5, 5>, Residual<Conv<4, 3>, ReLU>, Conv<2, 3>>>({.batch = 3});
  // A ReLU opening a block after a convolution (not fused across the block's edge).
  testing::check_gradients<ReluFirst>({.batch = 2});
  // Nested and repeated blocks; two blocks opening at the same layer (their inputs one memory).
  testing::check_gradients<Nested>({.batch = 2});
  testing::check_gradients<Sequential<Input<2, 4, 4>, Residual<Residual<Conv<2, 3>>, ReLU>>>({.batch = 2});
  // Pooling, upsampling and batch normalization inside, training and eval.
  using Mixed = Sequential<Input<4, 8, 6>, Residual<MaxPool<2>, Conv<4, 3>, ReLU, BatchNorm, Upsample<2>>, Sigmoid>;
  testing::check_gradients<Mixed>({.batch = 2});
  testing::check_gradients<Mixed>({.batch = 2, .training = false});
}

TEST_CASE("Residual blocks train: the loss of a fixed batch falls, and the summary shows the block") {
  using Net = Sequential<Input<3, 8, 8>, Conv<8, 3>, ReLU, Residual<Conv<8, 3>, ReLU, Conv<8, 3>>, ReLU, Conv<3, 3>,
                         Sigmoid>;
  const auto [first, last] = testing::fixed_batch_losses<Net>(9);
  CHECK(last < 0.9f * first);

  const std::string summary = Net::summary();
  CHECK(summary.find("Residual input") != std::string::npos);
  CHECK(summary.find("Residual add") != std::string::npos);
  CHECK(summary.find("Total params: " + detail::group_thousands(Net::parameter_count)) != std::string::npos);
}

TEST_CASE("Blocks opening at the network's input: the parameter gradients do not depend on asking for the input's") {
  // Without an input gradient the markers at the input and the first layer after them compute
  // none (the first layer would otherwise run a backward-data pass for nothing).
  using Net = Sequential<Input<2, 6, 6>, Residual<Concat<Conv<2, 3>>, Conv<2, 1>>, Conv<2, 3>, Sigmoid>;
  Model<Net, Cpu> with(2, 5, ModelOptions{.input_gradient = true});
  Model<Net, Cpu> without(2, 5);
  SplitMix rng(4);
  for (std::size_t i = 0; i < 2 * Net::input_shape::size; ++i)
    with.input(2).data[i] = without.input(2).data[i] = static_cast<float>(rng.uniform());
  with.forward(2);
  without.forward(2);
  for (std::size_t i = 0; i < 2 * Net::output_shape::size; ++i)
    with.output_gradient().data[i] = without.output_gradient().data[i] = static_cast<float>(rng.uniform() - 0.5);
  with.backward(with.output_gradient());
  without.backward(without.output_gradient());
  CHECK(std::vector<float>(with.gradient_data().begin(), with.gradient_data().end()) ==
        std::vector<float>(without.gradient_data().begin(), without.gradient_data().end()));
}
