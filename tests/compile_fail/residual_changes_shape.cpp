// Must not compile: the residual block at index 2 turns 8x6x6 into 16x3x3, which cannot be added
// to its input.
#include <strata/strata.hpp>

// [bad]
using namespace strata;
using Bad = Sequential<Input<3, 6, 6>, Conv<8, 3>, ReLU, Residual<Conv<16, 3>, MaxPool<2>>, Conv<3, 3>>;
static_assert(Bad::parameter_count > 0);
// [bad]
