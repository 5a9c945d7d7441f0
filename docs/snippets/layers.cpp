// docs/snippets/layers.cpp: the shape rules and parameter counts of docs/layers.md, checked at
// compile time (every static_assert below is one the page states).
#include <type_traits>

#include <strata/strata.hpp>

using namespace strata;

// [conv]
// Same padding keeps the size (stride 1) or divides it, rounding up; Valid shrinks it.
static_assert(Conv<32, 3>::output_dims({3, 64, 64}) == Dims{32, 64, 64});
static_assert(Conv<32, 3, 2>::output_dims({3, 63, 63}) == Dims{32, 32, 32});
static_assert(Conv<32, 5, 1, Valid>::output_dims({3, 64, 64}) == Dims{32, 60, 60});
// weight [F, C, K, K] and bias [F]: 32 * 3 * 3 * 3 + 32
static_assert(Sequential<Input<3, 64, 64>, Conv<32, 3>>::parameter_count == 896);
// [conv]

// [pool]
static_assert(MaxPool<2>::output_dims({32, 64, 64}) == Dims{32, 32, 32});
static_assert(Upsample<2>::output_dims({32, 32, 32}) == Dims{32, 64, 64});
static_assert(Upsample<3>::output_dims({1, 5, 7}) == Dims{1, 15, 21});
// [pool]

// [same_shape]
// BatchNorm: weight and bias [C] trainable, running_mean and running_var [C] buffers.
using Normed = Sequential<Input<16, 8, 8>, BatchNorm, LeakyReLU<>, Dropout<20>, Tanh>;
static_assert(std::is_same_v<Normed::output_shape, Shape<16, 8, 8>>);
static_assert(Normed::parameter_count == 2 * 16 && Normed::buffer_count == 2 * 16);
static_assert(LeakyReLU<>::slope == 0.3f);   // Keras' default; LeakyReLU<0.01f> is PyTorch's
// [same_shape]

int main() { return 0; }
