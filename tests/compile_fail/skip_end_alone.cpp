// Must not compile: a residual block's end written as an element of its own (its input marker
// and the gradient that goes round the block would be missing).
#include <strata/strata.hpp>

// [bad]
using namespace strata;
using Bad = Sequential<Input<2, 4, 4>, Conv<2, 3>, ReLU, ResidualAdd<2>>;
static_assert(Bad::parameter_count > 0);
// [bad]
