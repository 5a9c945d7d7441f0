// Compiled by clang (tests/CMakeLists.txt, where one is installed): the umbrella header and a
// training step build with it too. Debian 12's clang 14 has no float template arguments, so
// LeakyReLU<Slope> is left out there (layers/leaky_relu.hpp); everything else must compile, and
// LeakyReLU too where STRATA_HAS_LEAKY_RELU says the compiler takes it.
#include <strata/strata.hpp>

#include <vector>

using namespace strata;
#if STRATA_HAS_LEAKY_RELU
using Rectifier = LeakyReLU<0.01f>;
#else
using Rectifier = ReLU;  // clang 14 to 17: no float template arguments
#endif
using Net = Sequential<Input<3, 16, 16>, Conv<8, 3>, BatchNorm, Rectifier, MaxPool<2>, Dropout<10>, Upsample<2>,
                       Conv<3, 3>, Sigmoid>;

int main() {
  Model<Net, Cpu> model(2, 1);
  std::vector<float> x(2 * Net::input_shape::size, 0.5f);
  Adam adam;
  const float loss = model.train_step(x, x, 2, BinaryCrossEntropy{}, adam);
  return loss > 0.0f ? 0 : 1;
}
