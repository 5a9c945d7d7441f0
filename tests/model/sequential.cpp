// Tests for strata/model/sequential.hpp: shapes, counts, flattening and the summary.
#include <doctest/doctest.h>

#include <string>
#include <type_traits>

#include <strata/strata.hpp>

#include "support/networks.hpp"

using namespace strata;
using testing::ConvNetV1;

// The IFT6266 ConvNet v1, as the design brief states it.
static_assert(std::is_same_v<ConvNetV1::input_shape, Shape<3, 64, 64>>);
static_assert(std::is_same_v<ConvNetV1::output_shape, Shape<3, 64, 64>>);
static_assert(ConvNetV1::parameter_count == 195'619);
static_assert(ConvNetV1::layer_count == 18);
static_assert(ConvNetV1::dims_at(5) == Dims{32, 32, 32});

// Forward FLOPs: 2 * (output elements) * (C_in * 3 * 3) per convolution.
constexpr double conv_flops(double out_c, double h, double w, double in_c) { return 2.0 * out_c * h * w * in_c * 9.0; }
static_assert(ConvNetV1::layer_flops[0] == conv_flops(32, 64, 64, 3));
static_assert(ConvNetV1::layer_flops[8] == conv_flops(128, 16, 16, 64));

// Nested blocks and Repeat flatten into one list.
using Block = Sequential<Conv<8, 3>, ReLU>;
using Nested = Sequential<Input<3, 16, 16>, Block, Repeat<3, Block, BatchNorm>, Sequential<Sequential<Conv<3, 1>>>>;
static_assert(Nested::layer_count == 2 + 3 * 3 + 1);
static_assert(std::is_same_v<Nested::layers,
                             type_list<Conv<8, 3>, ReLU, Conv<8, 3>, ReLU, BatchNorm, Conv<8, 3>, ReLU, BatchNorm,
                                       Conv<8, 3>, ReLU, BatchNorm, Conv<3, 1>>>);
static_assert(Nested::parameter_count == 224 + 3 * (584 + 16) + 27);
static_assert(Nested::buffer_count == 3 * 16);
static_assert(std::is_same_v<Sequential<Input<1, 4, 4>>::output_shape, Shape<1, 4, 4>>);  // empty stack

TEST_CASE("summary lists every layer with its output shape and parameters, then the totals") {
  const std::string s = ConvNetV1::summary();
  CHECK(s.find("0   Conv<32, 3>") != std::string::npos);
  CHECK(s.find("32x64x64") != std::string::npos);
  CHECK(s.find("17  Sigmoid") != std::string::npos);
  CHECK(s.find("73,856") != std::string::npos);
  CHECK(s.find("Total params: 195,619") != std::string::npos);
  CHECK(s.find("Activation memory per sample: 6,324,224 bytes") != std::string::npos);
  CHECK(Nested::summary().find("Non-trainable buffers: 48") != std::string::npos);
}

// A training step: forward + weight gradients + input gradients except for the first layer's:
// about 3x the forward pass (issue 5's 1.40 GFLOP per image for v1).
static_assert(ConvNetV1::training_flops > 2.95 * ConvNetV1::forward_flops);
static_assert(ConvNetV1::training_flops < 3.0 * ConvNetV1::forward_flops);
static_assert(ConvNetV1::training_flops > 1.39e9 && ConvNetV1::training_flops < 1.41e9);
