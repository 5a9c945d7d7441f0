// examples/inpainting/architectures.hpp: the IFT6266 (2017) inpainting autoencoders as types.
//
// To add a variant: write one `using` line for its type, one entry struct naming it (a `name` and
// the `network` type) and add the entry to the list at the bottom; the trainer, predict and
// summary commands pick it up once run_cpu.hpp declares its CpuJobs and a cpu_<name>.cpp file
// (one line) compiles them. Entries are structs rather than Architecture<"v1", Net>: nvcc 13
// rejects string-literal template arguments, and the GPU trainer (train_cuda.cu) and the CUDA
// tests include this file.
#pragma once

#include <string>
#include <string_view>

#include <strata/strata.hpp>

namespace inpainting {

using namespace strata;

// ConvNet v1: 7 convolutions (3x3, same, ReLU), 2 max-pools, 2 nearest upsamplings, sigmoid.
using ConvNetV1 = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>,
    Conv<64, 3>, ReLU, MaxPool<2>,
    Conv<128, 3>, ReLU, Upsample<2>,
    Conv<64, 3>, ReLU, Upsample<2>,
    Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;

// ConvNet v2: every convolution of v1 doubled (14 convolutions). The output convolution's twin
// keeps 32 filters, so the 3-channel output is produced once (1.0 GFLOP forward per image).
template <int Filters>
using ConvReLU = Sequential<Conv<Filters, 3>, ReLU>;
using ConvNetV2 = Sequential<Input<3, 64, 64>,
    Repeat<4, ConvReLU<32>>, MaxPool<2>,
    Repeat<2, ConvReLU<64>>, MaxPool<2>,
    Repeat<2, ConvReLU<128>>, Upsample<2>,
    Repeat<2, ConvReLU<64>>, Upsample<2>,
    Repeat<3, ConvReLU<32>>, Conv<3, 3>, Sigmoid>;

// v1 with BatchNorm between every hidden convolution and its ReLU.
template <int Filters>
using ConvBnReLU = Sequential<Conv<Filters, 3>, BatchNorm, ReLU>;
using ConvNetV1BatchNorm = Sequential<Input<3, 64, 64>,
    ConvBnReLU<32>, ConvBnReLU<32>, MaxPool<2>,
    ConvBnReLU<64>, MaxPool<2>,
    ConvBnReLU<128>, Upsample<2>,
    ConvBnReLU<64>, Upsample<2>,
    ConvBnReLU<32>, Conv<3, 3>, Sigmoid>;

// v1 with 20% dropout after each pooling and after the bottleneck.
using ConvNetV1Dropout = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>, Dropout<20>,
    Conv<64, 3>, ReLU, MaxPool<2>, Dropout<20>,
    Conv<128, 3>, ReLU, Dropout<20>, Upsample<2>,
    Conv<64, 3>, ReLU, Upsample<2>,
    Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;

// v1 with LeakyReLU (Keras' slope 0.3) in place of every ReLU.
using ConvNetV1Leaky = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, LeakyReLU<>, Conv<32, 3>, LeakyReLU<>, MaxPool<2>,
    Conv<64, 3>, LeakyReLU<>, MaxPool<2>,
    Conv<128, 3>, LeakyReLU<>, Upsample<2>,
    Conv<64, 3>, LeakyReLU<>, Upsample<2>,
    Conv<32, 3>, LeakyReLU<>, Conv<3, 3>, Sigmoid>;

// v1 with U-Net skips (Concat): each encoder level's features are stacked before the decoder's at
// the same resolution, so the 64-filter decoder convolution sees 64 + 128 channels and the
// 32-filter one 32 + 64; otherwise v1's layers.
using ConvNetV1UNet = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, ReLU, Conv<32, 3>, ReLU,
    Concat<MaxPool<2>,
           Conv<64, 3>, ReLU,
           Concat<MaxPool<2>, Conv<128, 3>, ReLU, Upsample<2>>,
           Conv<64, 3>, ReLU, Upsample<2>>,
    Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;

static_assert(ConvNetV1::parameter_count == 195'619);
static_assert(ConvNetV1UNet::parameter_count == 195'619 + 64 * 64 * 9 + 32 * 32 * 9);

// ---- the list the command line chooses from ----
struct V1 {
  static constexpr const char* name = "v1";
  using network = ConvNetV1;
};
struct V2 {
  static constexpr const char* name = "v2";
  using network = ConvNetV2;
};
struct V1BatchNorm {
  static constexpr const char* name = "v1-bn";
  using network = ConvNetV1BatchNorm;
};
struct V1Dropout {
  static constexpr const char* name = "v1-dropout";
  using network = ConvNetV1Dropout;
};
struct V1Leaky {
  static constexpr const char* name = "v1-leaky";
  using network = ConvNetV1Leaky;
};
struct V1UNet {
  static constexpr const char* name = "v1-unet";
  using network = ConvNetV1UNet;
};

template <class... Entries>
struct ArchitectureList {
  static std::string names() {
    std::string out;
    ((out += (out.empty() ? "" : ", ") + std::string(Entries::name)), ...);
    return out;
  }
  // Calls visit.template operator()<Net>() for the entry called `name`; false if there is none.
  template <class Visitor>
  static bool visit(std::string_view name, Visitor&& visit) {
    return ((std::string_view(Entries::name) == name ? (visit.template operator()<typename Entries::network>(), true)
                                                     : false) ||
            ...);
  }
  // The same with the entry itself (V1, V2, ...) as the template argument.
  template <class Visitor>
  static bool visit_entry(std::string_view name, Visitor&& visit) {
    return ((std::string_view(Entries::name) == name ? (visit.template operator()<Entries>(), true) : false) || ...);
  }
};

using Architectures = ArchitectureList<V1, V2, V1BatchNorm, V1Dropout, V1Leaky, V1UNet>;

}  // namespace inpainting
