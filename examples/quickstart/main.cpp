// examples/quickstart: the 7-conv autoencoder of the IFT6266 project as a type, trained to fill
// in the blanked centre of generated 64x64 images. Needs no data files.
#include <cmath>
#include <cstdio>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

using ConvNetV1 = Sequential<Input<3, 64, 64>,
                             Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<2>,
                             Conv<64, 3>, ReLU, MaxPool<2>,
                             Conv<128, 3>, ReLU, Upsample<2>,
                             Conv<64, 3>, ReLU, Upsample<2>,
                             Conv<32, 3>, ReLU, Conv<3, 3>, Sigmoid>;
static_assert(ConvNetV1::parameter_count == 195'619);

namespace {
// Simple scenes: a sky gradient above a horizon, a disc, and stripes, all varying with the seed.
void make_scene(std::uint64_t seed, float* image) {
  SplitMix rng(seed);
  const double horizon = 20 + 24 * rng.uniform(), cx = 64 * rng.uniform(), cy = 64 * rng.uniform();
  const double radius = 6 + 14 * rng.uniform(), stripe = 0.2 + 0.5 * rng.uniform();
  double sky[3], ground[3], disc[3];
  for (int c = 0; c < 3; ++c) sky[c] = rng.uniform(), ground[c] = rng.uniform(), disc[c] = rng.uniform();
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 64; ++y)
      for (int x = 0; x < 64; ++x) {
        double v = y < horizon ? sky[c] * (0.6 + 0.4 * y / horizon) : ground[c] * (0.8 + 0.2 * std::sin(stripe * x));
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) < radius * radius) v = disc[c];
        image[(c * 64 + y) * 64 + x] = static_cast<float>(v);
      }
}
}  // namespace

int main() {
  constexpr int batch = 32;
  constexpr int batches_per_epoch = 8;
  constexpr std::size_t sample = ConvNetV1::input_shape::size;
  std::puts(ConvNetV1::summary().c_str());

  Model<ConvNetV1, Cpu> model{batch, /*seed=*/1};
  Adam adam{};
  std::vector<float> truth(batch * sample), masked(batch * sample);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    double total = 0.0;
    for (int b = 0; b < batches_per_epoch; ++b) {
      for (int n = 0; n < batch; ++n) make_scene(static_cast<std::uint64_t>((epoch * 1000 + b) * batch + n), &truth[n * sample]);
      masked = truth;
      for (int n = 0; n < batch; ++n)  // blank the centre 32x32 of every channel
        for (int c = 0; c < 3; ++c)
          for (int y = 16; y < 48; ++y)
            std::fill_n(&masked[n * sample + (c * 64 + y) * 64 + 16], 32, 0.0f);
      total += model.train_step(masked, truth, batch, BinaryCrossEntropy{}, adam);
    }
    std::printf("epoch %d: BCE %.4f\n", epoch, total / batches_per_epoch);
  }
  return 0;
}
