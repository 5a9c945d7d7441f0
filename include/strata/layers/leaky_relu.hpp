// strata/layers/leaky_relu.hpp: leaky rectifier, y = x for x > 0, Slope * x otherwise.
//
// LeakyReLU<Slope = 0.3f>: input C x H x W -> output C x H x W; no parameters.
//   The default slope is Keras' LeakyReLU default (alpha = 0.3), because the experiments strata
//   reproduces were written in Keras; PyTorch's default is 0.01 (write LeakyReLU<0.01f>).
//   requires 0 < Slope < 1, so the sign of y equals the sign of x and backward needs only y.
//   A float template argument is C++20 (P1907): GCC 11+, clang 18+. An older compiler (Debian
//   12's clang 14) builds the rest of strata; LeakyReLU there stops with a message saying so.
//   STRATA_HAS_LEAKY_RELU says which. (Clang 18+ still reports __cpp_nontype_template_args
//   201411, so its version is asked too.)
#pragma once

#include "strata/layers/activation.hpp"

#if (defined(__cpp_nontype_template_args) && __cpp_nontype_template_args >= 201911L) || \
    (defined(__clang__) && !defined(__apple_build_version__) && __clang_major__ >= 18)
#define STRATA_HAS_LEAKY_RELU 1
#else
#define STRATA_HAS_LEAKY_RELU 0
#endif

namespace strata {

#if STRATA_HAS_LEAKY_RELU

namespace detail {
// "0.3", "0.01": a slope in (0, 1) with up to four decimals, for names and messages.
constexpr CompileText slope_text(float slope) {
  CompileText t("0.");
  int scaled = static_cast<int>(slope * 10000.0f + 0.5f);
  for (int place = 1000; place > 0 && scaled > 0; place /= 10) {
    const int digit = scaled / place;
    t = t + digit;
    scaled -= digit * place;
  }
  return t;
}
}  // namespace detail

template <float Slope = 0.3f>
struct LeakyReLU : ActivationLayer<LeakyReLU<Slope>> {
  static constexpr const char* kind = "leaky_relu";
  static constexpr float slope = Slope;
  static constexpr ActivationSpec activation{Activation::leaky_relu, Slope};
  static constexpr CompileText name() {
    return CompileText("LeakyReLU<") + detail::slope_text(Slope) + ">";
  }
  static constexpr CompileText check(Dims) {
    if (!(Slope > 0.0f && Slope < 1.0f)) return "the slope must lie strictly between 0 and 1";
    return {};
  }
};

#else

namespace detail {
template <int>
inline constexpr bool float_template_arguments = false;
}  // namespace detail

template <int Unsupported = 0>
struct LeakyReLU {
  static_assert(detail::float_template_arguments<Unsupported>,
                "LeakyReLU<Slope> needs float template arguments (C++20): GCC 11 or later, clang 18 or later");
};

#endif

}  // namespace strata
