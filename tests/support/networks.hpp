// tests/support/networks.hpp: architectures several test files use.
#pragma once

#include <strata/strata.hpp>

namespace strata::testing {

// The IFT6266 ConvNet v1: 7 convolutions, 2 pools, 2 upsamplings, sigmoid output. Restated
// rather than taken from examples/inpainting/architectures.hpp, because the CUDA tests include
// this file and nvcc 13 rejects that header's string-literal template arguments.
using ConvNetV1 = Sequential<Input<3, 64, 64>,
                             Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>,
                             Conv<64, 3>, ReLU, MaxPool<2>,
                             Conv<128, 3>, ReLU, Upsample<2>,
                             Conv<64, 3>, ReLU, Upsample<2>,
                             Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;

// A small autoencoder of the same form for tests that train.
using TinyAutoencoder = Sequential<Input<3, 16, 16>,
                                   Conv<8, 3>, ReLU, MaxPool<2>,
                                   Conv<16, 3>, ReLU, Upsample<2>,
                                   Conv<8, 3>, ReLU, Conv<3, 3>, Sigmoid>;

}  // namespace strata::testing
