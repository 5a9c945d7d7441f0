// docs/snippets/backends.cpp: the CPU code of docs/backends.md, compiled and run by the tests.
#include <cstdio>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;
using Net = Sequential<Input<3, 32, 32>, Conv<16, 3>, ReLU, MaxPool<2>, Upsample<2>, Conv<3, 3>, Sigmoid>;

int main() {
  // [threads]
  // All cores by default (OpenMP's thread count: OMP_NUM_THREADS sets it); or choose:
  Model<Net, Cpu> model{/*max_batch=*/8, /*seed=*/1, ModelOptions{.threads = 2}};
  model.set_threads(1);   // later, between steps
  // [threads]
  std::printf("default threads %d, model threads %d\n", Cpu::default_threads(), model.threads());

  // [double]
  // The scalar is the third argument: double on the CPU, for checks (the gradient tests use it).
  Model<Net, Cpu, double> precise{8, /*seed=*/1};
  std::vector<double> x(8 * Net::input_shape::size, 0.25);
  Adam adam{};
  const double loss = precise.train_step(x, x, 8, BinaryCrossEntropy{}, adam);
  // [double]
  std::printf("double loss %.12f\n", loss);
  return model.threads() == 1 && loss > 0 ? 0 : 1;
}
