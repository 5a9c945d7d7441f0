// tests/fuzz/fuzz_net.hpp: the small network whose checkpoints the safetensors fuzzer loads and
// the seed corpus holds (it has weights, biases and a BatchNorm buffer, and loads fast).
#pragma once

// Single headers, not strata.hpp: clang 14 (the fuzzers' compiler) lacks float template
// arguments, which LeakyReLU<0.3f> uses.
#include <strata/backend/cpu/cpu.hpp>
#include <strata/layers/batch_norm.hpp>
#include <strata/layers/conv.hpp>
#include <strata/layers/relu.hpp>
#include <strata/layers/sigmoid.hpp>
#include <strata/model/model.hpp>

namespace strata::testing {
using FuzzNet = Sequential<Input<3, 4, 4>, Conv<2, 3>, BatchNorm, ReLU, Conv<3, 1>, Sigmoid>;
}  // namespace strata::testing
