// Must not compile: Input in the middle of a stack.
#include <strata/strata.hpp>

using namespace strata;
using Bad = Sequential<Input<3, 8, 8>, Conv<8, 3>, Input<8, 8, 8>, ReLU>;
static_assert(Bad::layer_count == 2);
