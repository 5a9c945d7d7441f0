// Tests for strata/layers/concat.hpp.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <strata/strata.hpp>

#include "support/fixed_batch.hpp"
#include "support/gradient_check.hpp"

using namespace strata;

namespace {

// A U-Net as types: each level's features go round the levels below it and are stacked before
// the decoder's at the same resolution.
template <int F, class Inner>
using Level = Sequential<Conv<F, 3>, ReLU, Concat<MaxPool<2>, Inner, Upsample<2>>, Conv<F, 3>, ReLU>;
using TinyUNet = Sequential<Input<3, 16, 16>, Level<8, Level<16, Sequential<Conv<32, 3>, ReLU>>>, Conv<3, 1>, Sigmoid>;

static_assert(std::is_same_v<TinyUNet::output_shape, Shape<3, 16, 16>>);
// The inner level joins 16 + 32 channels at 8 x 8; the outer 8 + 16 at 16 x 16.
static_assert(TinyUNet::dims_at(12) == Dims{48, 8, 8});  // after the inner ConcatJoin
static_assert(TinyUNet::dims_at(16) == Dims{24, 16, 16});  // after the outer one
static_assert(TinyUNet::parameter_count ==
              (3 * 9 + 1) * 8 + (8 * 9 + 1) * 16 + (16 * 9 + 1) * 32 + (48 * 9 + 1) * 16 + (24 * 9 + 1) * 8 + (8 + 1) * 3);
static_assert(std::is_same_v<Sequential<Input<2, 4, 4>, Concat<Conv<3, 3>>>::layers,
                             type_list<ConcatInput, Conv<3, 3>, ConcatJoin<2>>>);
static_assert(std::is_same_v<Sequential<Input<2, 4, 4>, Concat<Conv<3, 3>>>::output_shape, Shape<5, 4, 4>>);

}  // namespace

TEST_CASE("Concat stacks the block's input channels before its output's; the gradient splits back") {
  using Net = Sequential<Input<1, 1, 2>, Concat<ReLU>>;
  static_assert(std::is_same_v<Net::output_shape, Shape<2, 1, 2>>);
  Model<Net, Cpu> model(1, 1, ModelOptions{.input_gradient = true});
  model.input(1).data[0] = -1.0f;
  model.input(1).data[1] = 2.0f;
  const auto y = model.forward(1);
  CHECK(std::vector<float>(y.data, y.data + 4) == std::vector<float>{-1.0f, 2.0f, 0.0f, 2.0f});
  auto g = model.output_gradient();
  for (int i = 0; i < 4; ++i) g.data[i] = static_cast<float>(i + 1);  // 1, 2 for the input; 3, 4 through the ReLU
  model.backward(g);
  CHECK(model.input_gradient().data[0] == 1.0f);      // the ReLU stops its 3
  CHECK(model.input_gradient().data[1] == 2.0f + 4);  // both ways
}

TEST_CASE("Concat gradients match finite differences") {
  testing::check_gradients<TinyUNet>({.batch = 2});
  // At the network's input, after a fused Conv + ReLU pair, a ReLU opening the block.
  testing::check_gradients<Sequential<Input<2, 4, 6>, Concat<Conv<3, 3>, ReLU>, Conv<2, 1>>>({.batch = 3});
  testing::check_gradients<Sequential<Input<2, 4, 4>, Conv<3, 3>, ReLU, Concat<ReLU, Conv<2, 3>>, Conv<2, 3>>>(
      {.batch = 2});
  // Residual and Concat inside each other; BatchNorm inside, training and eval.
  using Mixed = Sequential<Input<4, 8, 8>, Residual<Concat<Conv<4, 3>, ReLU, BatchNorm>, Conv<4, 1>>,
                           Concat<Residual<Conv<4, 3>>, MaxPool<2>, Upsample<2>>, Sigmoid>;
  static_assert(std::is_same_v<Mixed::output_shape, Shape<8, 8, 8>>);
  testing::check_gradients<Mixed>({.batch = 2});
  testing::check_gradients<Mixed>({.batch = 2, .training = false});
}

TEST_CASE("A U-Net of Concat blocks trains, and the summary shows its joins") {
  const auto [first, last] = testing::fixed_batch_losses<TinyUNet>(11);
  CHECK(last < 0.9f * first);
  const std::string summary = TinyUNet::summary();
  CHECK(summary.find("Concat input") != std::string::npos);
  CHECK(summary.find("Concat join") != std::string::npos);
  CHECK(summary.find("48x8x8") != std::string::npos);
}
