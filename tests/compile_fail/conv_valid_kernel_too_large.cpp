// Must not compile: a Valid 5x5 kernel at index 2 applied to 8x3x3.
#include <strata/strata.hpp>

using namespace strata;
using Bad = Sequential<Input<3, 6, 6>, Conv<8, 3, 2>, ReLU, Conv<8, 5, 1, Valid>>;
Model<Bad, Cpu>* unused = nullptr;
static_assert(Bad::layer_count == 3);
