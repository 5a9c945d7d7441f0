// docs/snippets/getting_started.cpp: the program of docs/getting-started.md, compiled and run by
// the tests.
// [program]
#include <cmath>
#include <cstdio>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

// A small denoising autoencoder for 1 x 16 x 16 images.
using Net = Sequential<Input<1, 16, 16>,
    Conv<8, 3>, ReLU, MaxPool<2>,      // 8 x 8 x 8
    Conv<16, 3>, ReLU, Upsample<2>,    // 16 x 16 x 16
    Conv<1, 3>, Sigmoid>;              // 1 x 16 x 16, values in (0, 1)

int main() {
  std::puts(Net::summary().c_str());

  constexpr int batch = 16;
  Model<Net, Cpu> model{batch, /*seed=*/42};
  Adam adam{.lr = 3e-3};

  // Targets: bright squares on a dark background; inputs: the same with every 3rd pixel lost.
  std::vector<float> target(batch * Net::input_shape::size), input(target.size());
  for (int n = 0; n < batch; ++n)
    for (int h = 0; h < 16; ++h)
      for (int w = 0; w < 16; ++w) {
        const std::size_t i = (n * 16 + h) * 16 + w;
        const bool inside = h >= n % 8 && h < n % 8 + 8 && w >= n / 2 && w < n / 2 + 8;
        target[i] = inside ? 0.9f : 0.1f;
        input[i] = i % 3 == 0 ? 0.0f : target[i];
      }

  float first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    last = model.train_step(input, target, batch, BinaryCrossEntropy{}, adam);
    if (step == 0) first = last;
    if (step % 25 == 0) std::printf("step %3d  loss %.4f\n", step, last);
  }
  std::vector<float> output(target.size());
  model.predict(input, batch, output);
  double error = 0;
  for (std::size_t i = 0; i < output.size(); ++i) error += std::abs(output[i] - target[i]);
  std::printf("loss %.4f -> %.4f, mean |output - target| %.3f\n", first, last, error / output.size());
  return last < first ? 0 : 1;
}
// [program]
