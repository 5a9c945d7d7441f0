// Must not compile: the concatenating block at index 1 turns 8x6x6 into 8x3x3, whose channels
// cannot be stacked with its input's.
#include <strata/strata.hpp>

// [bad]
using namespace strata;
using Bad = Sequential<Input<3, 6, 6>, Conv<8, 3>, Concat<MaxPool<2>>, Conv<3, 3>>;
static_assert(Bad::parameter_count > 0);
// [bad]
