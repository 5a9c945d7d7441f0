// tests/consumer/main.cpp: a user's first program, built outside strata's own build.
//
// Trains a small autoencoder for a few Adam steps on a fixed pattern, prints the losses and
// fails unless the loss went down and the version CMake found is the one the headers declare.
#include <cstdio>
#include <cstring>
#include <vector>

#include <strata/strata.hpp>

using Net = strata::Sequential<strata::Input<1, 8, 8>,
    strata::Conv<4, 3>, strata::ReLU, strata::MaxPool<2>,
    strata::Conv<8, 3>, strata::ReLU, strata::Upsample<2>,
    strata::Conv<1, 3>, strata::Sigmoid>;
static_assert(Net::parameter_count == (4 * 9 + 4) + (8 * 4 * 9 + 8) + (1 * 8 * 9 + 1));

int main() {
  std::printf("strata %s, CMake's strata_VERSION %s\n", strata::version, STRATA_CONSUMER_CMAKE_VERSION);
  if (std::strcmp(strata::version, STRATA_CONSUMER_CMAKE_VERSION) != 0) {
    std::puts("FAIL: the header's version and CMake's strata_VERSION differ");
    return 1;
  }

  constexpr int batch = 4;
  strata::Model<Net, strata::Cpu> model{batch, /*seed=*/1};
  strata::Adam adam{.lr = 1e-2};
  // Four 8x8 images of diagonal stripes, reconstructed from themselves.
  std::vector<float> x(batch * Net::input_shape::size);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = ((i / 8 + i % 8 + i / 64) % 4 < 2) ? 0.9f : 0.1f;

  float first = 0.0f, last = 0.0f;
  for (int step = 0; step < 30; ++step) {
    last = model.train_step(x, x, batch, strata::BinaryCrossEntropy{}, adam);
    if (step == 0) first = last;
    if (step % 10 == 0 || step == 29) std::printf("step %2d  loss %.4f\n", step, last);
  }
  if (!(last < first)) {
    std::printf("FAIL: the loss did not decrease (%.4f -> %.4f)\n", first, last);
    return 1;
  }
  std::printf("OK: loss %.4f -> %.4f\n", first, last);
  return 0;
}
