// Must not compile: MaxPool<2> at index 5 receives 32x63x63.
#include <strata/strata.hpp>

// [bad]
using namespace strata;
using Bad = Sequential<Input<3, 63, 63>, Conv<32, 3>, ReLU, Conv<32, 3>, ReLU, MaxPool<1>, MaxPool<2>, Conv<3, 3>>;
static_assert(Bad::parameter_count > 0);
// [bad]
