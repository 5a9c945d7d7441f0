// Must not compile: int is not a layer.
#include <strata/strata.hpp>

using namespace strata;
using Bad = Sequential<Input<3, 8, 8>, Conv<8, 3>, int>;
static_assert(Bad::layer_count == 2);
