// docs/snippets/architecture.cpp: the code of docs/architecture-as-a-type.md, compiled and run
// by the tests so the page cannot go stale.
#include <cstdio>
#include <span>
#include <type_traits>
#include <vector>

#include <strata/strata.hpp>

// [declare]
using namespace strata;

using ConvNetV1 = Sequential<Input<3, 64, 64>,
    Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>,
    Conv<64, 3>, ReLU, MaxPool<2>,
    Conv<128, 3>, ReLU, Upsample<2>,
    Conv<64, 3>, ReLU, Upsample<2>,
    Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;

static_assert(std::is_same_v<ConvNetV1::output_shape, Shape<3, 64, 64>>);
static_assert(ConvNetV1::parameter_count == 195'619);
// [declare]

// [blocks]
// A block has no Input; it is flattened where it is used.
using ConvBnLeaky = Sequential<Conv<32, 3>, BatchNorm, LeakyReLU<>>;

using Encoder = Sequential<Input<3, 64, 64>,
    Repeat<2, ConvBnLeaky>, MaxPool<2>,   // two copies of the block
    Conv<64, 3, 2>, ReLU,                 // stride 2: 64x16x16
    Dropout<25>>;

static_assert(Encoder::layer_count == 2 * 3 + 1 + 2 + 1);
static_assert(std::is_same_v<Encoder::output_shape, Shape<64, 16, 16>>);
// [blocks]

// [nesting]
// Blocks are types: name them, nest them in each other, repeat them.
using Down = Sequential<Conv<32, 3>, ReLU, MaxPool<2>>;       // halves the size
using Up = Sequential<Upsample<2>, Conv<32, 3>, ReLU>;        // doubles it
using Bottleneck = Sequential<Conv<64, 3>, BatchNorm, ReLU>;

using Hourglass = Sequential<Input<3, 64, 64>,
    Repeat<3, Down>,                   // 64 -> 8
    Repeat<2, Bottleneck>,             // a block repeated: 6 layers
    Repeat<3, Up>,                     // 8 -> 64
    Sequential<Conv<3, 1>, Sigmoid>>;  // a block written in place

static_assert(Hourglass::layer_count == 3 * 3 + 2 * 3 + 3 * 3 + 2);
static_assert(Hourglass::dims_at(9) == Dims{32, 8, 8});      // the input of layer 9
static_assert(std::is_same_v<Hourglass::output_shape, Shape<3, 64, 64>>);
// [nesting]

// [residual]
// A residual block adds its input to its output, y = x + Block(x): its layers keep the shape.
using ResBlock = Residual<Conv<64, 3>, ReLU, Conv<64, 3>>;

using ResidualAutoencoder = Sequential<Input<3, 64, 64>,
    Conv<64, 3>, ReLU, MaxPool<2>,     // 64x32x32
    Repeat<2, ResBlock>, ReLU,         // two residual blocks
    Upsample<2>, Conv<3, 3>, Sigmoid>;

// Each block is its 3 layers between two ends, ResidualInput and ResidualAdd (summary() shows them).
static_assert(ResidualAutoencoder::layer_count == 3 + 2 * (3 + 2) + 1 + 3);
static_assert(ResidualAutoencoder::parameter_count == (3 * 9 + 1) * 64 + 4 * (64 * 9 + 1) * 64 + (64 * 9 + 1) * 3);
// [residual]

// [unet]
// Concat stacks its input's channels before its output's: a U-Net's level sends its features
// round everything below it to the decoder at the same resolution.
template <int F, class Inner>
using Level = Sequential<Conv<F, 3>, ReLU, Concat<MaxPool<2>, Inner, Upsample<2>>, Conv<F, 3>, ReLU>;

using UNet = Sequential<Input<3, 64, 64>,
    Level<32, Level<64, Level<128, Sequential<Conv<256, 3>, ReLU>>>>,
    Conv<3, 1>, Sigmoid>;

static_assert(UNet::dims_at(UNet::layer_count - 4) == Dims{32 + 64, 64, 64});  // the outer join
static_assert(std::is_same_v<UNet::output_shape, Shape<3, 64, 64>>);
// [unet]

int main() {
  // [train]
  Model<ConvNetV1, Cpu> model{/*max_batch=*/8, /*seed=*/1};
  Adam adam{};  // Keras' defaults: lr 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-7

  std::vector<float> x(8 * ConvNetV1::input_shape::size, 0.25f);   // NCHW, 8 images
  std::vector<float> y(8 * ConvNetV1::output_shape::size, 0.75f);
  const float loss = model.train_step(x, y, /*batch=*/8, BinaryCrossEntropy{}, adam);

  std::vector<float> out(y.size());
  model.predict(x, /*batch=*/8, out);
  // [train]
  std::puts(Encoder::summary().c_str());
  std::puts(Hourglass::summary().c_str());
  std::puts(ResidualAutoencoder::summary().c_str());
  Model<ResidualAutoencoder, Cpu> residual{/*max_batch=*/2, /*seed=*/1};
  Adam residual_adam{};  // one Adam per model: it counts that model's steps
  const float residual_loss = residual.train_step(std::span<const float>(x).first(2 * ResidualAutoencoder::input_shape::size),
                                                  std::span<const float>(y).first(2 * ResidualAutoencoder::output_shape::size),
                                                  /*batch=*/2, BinaryCrossEntropy{}, residual_adam);
  std::printf("loss %.4f, first output %.4f\n", loss, out[0]);
  std::printf("residual autoencoder: loss %.4f\n", residual_loss);
  std::printf("U-Net: %zu layers, %zu parameters\n", UNet::layer_count, UNet::parameter_count);
  return loss > 0.0f && residual_loss > 0.0f ? 0 : 1;
}
