// Must not compile: the CPU backend keeps activations in float; bfloat16 models are strata::Cuda's.
#include <strata/core/bfloat16.hpp>
#include <strata/strata.hpp>

using namespace strata;
using Net = Sequential<Input<3, 8, 8>, Conv<8, 3>, ReLU>;
Model<Net, Cpu, bfloat16> model(4, 1);
