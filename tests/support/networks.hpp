// tests/support/networks.hpp: architectures several test files use.
#pragma once

#include <strata/strata.hpp>

#include "../../examples/inpainting/architectures.hpp"

namespace strata::testing {

// The IFT6266 ConvNet v1 (7 convolutions, 2 pools, 2 upsamplings, sigmoid output): the inpainting
// example's own type, which nvcc compiles too (the CUDA tests include this file).
using ConvNetV1 = inpainting::ConvNetV1;

// A small autoencoder of the same form for tests that train.
using TinyAutoencoder = Sequential<Input<3, 16, 16>,
                                   Conv<8, 3>, ReLU, MaxPool<2>,
                                   Conv<16, 3>, ReLU, Upsample<2>,
                                   Conv<8, 3>, ReLU, Conv<3, 3>, Sigmoid>;

}  // namespace strata::testing
