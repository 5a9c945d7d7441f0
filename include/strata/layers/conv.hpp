// strata/layers/conv.hpp: 2-D convolution with bias (Keras' Conv2D, PyTorch's Conv2d).
//
// Conv<Filters, Kernel, Stride = 1, Padding = Same>
//   input   C x H x W
//   output  Filters x Ho x Wo
//             Same:  Ho = ceil(H / Stride), zero padding split as Keras/TensorFlow do
//                    (the extra row or column, if any, goes at the bottom or right)
//             Valid: Ho = (H - Kernel) / Stride + 1, no padding
//   params  weight [Filters, C, Kernel, Kernel] (PyTorch's OIHW order), bias [Filters]
//   requires Filters >= 1, Kernel >= 1, Stride >= 1; with Valid, Kernel <= H and Kernel <= W
#pragma once

#include <algorithm>

#include "strata/core/layer.hpp"

namespace strata {

enum class Padding : unsigned char { same, valid };
inline constexpr Padding Same = Padding::same;
inline constexpr Padding Valid = Padding::valid;

// Where a convolution window starts; what the backends need beyond the two shapes.
struct ConvGeometry {
  int kernel = 1;
  int stride = 1;
  int pad_top = 0;
  int pad_left = 0;
};

namespace detail {
constexpr int same_padding_before(int in, int kernel, int stride) {
  const int out = (in + stride - 1) / stride;
  const int total = std::max((out - 1) * stride + kernel - in, 0);
  return total / 2;
}
}  // namespace detail

template <int Filters, int Kernel, int Stride = 1, Padding Pad = Same>
struct Conv : LayerDefaults {
  static constexpr const char* kind = "conv";
  static constexpr int filters = Filters;
  static constexpr int kernel = Kernel;
  static constexpr int stride = Stride;
  static constexpr Padding padding = Pad;

  static constexpr CompileText name() {
    CompileText t = CompileText("Conv<") + Filters + ", " + Kernel;
    if (Stride != 1 || Pad != Same) t = t + ", " + Stride;
    if (Pad != Same) t = t + ", Valid";
    return t + ">";
  }

  static constexpr CompileText check(Dims in) {
    if (Filters < 1) return "the number of filters must be at least 1";
    if (Kernel < 1) return "the kernel size must be at least 1";
    if (Stride < 1) return "the stride must be at least 1";
    if (Pad == Valid && (Kernel > in.h || Kernel > in.w))
      return CompileText("a Valid ") + Kernel + "x" + Kernel +
             " kernel does not fit in the input; use Same padding or a smaller kernel";
    return {};
  }

  static constexpr Dims output_dims(Dims in) {
    if (Pad == Same) return {Filters, (in.h + Stride - 1) / Stride, (in.w + Stride - 1) / Stride};
    return {Filters, (in.h - Kernel) / Stride + 1, (in.w - Kernel) / Stride + 1};
  }

  static constexpr ConvGeometry geometry(Dims in) {
    if (Pad == Valid) return {Kernel, Stride, 0, 0};
    return {Kernel, Stride, detail::same_padding_before(in.h, Kernel, Stride),
            detail::same_padding_before(in.w, Kernel, Stride)};
  }

  static constexpr int parameter_tensors = 2;
  static constexpr TensorInfo parameter(int i, Dims in) {
    if (i == 0)
      return {"weight", 4, {Filters, in.c, Kernel, Kernel}, InitRole::weight, in.c * Kernel * Kernel,
              Filters * Kernel * Kernel};
    return {"bias", 1, {Filters, 0, 0, 0}, InitRole::zeros, 0, 0};
  }

  static constexpr double forward_flops(Dims in) {
    const Dims out = output_dims(in);
    return 2.0 * static_cast<double>(out.size()) * in.c * Kernel * Kernel;
  }
  // The weight gradient costs a forward pass; the input gradient (all but the first layer) another.
  static constexpr double backward_flops(Dims in, bool input_gradient) {
    return (input_gradient ? 2.0 : 1.0) * forward_flops(in);
  }

  template <class Device>
  static std::size_t scratch_floats(Dims in, int batch, int threads) {
    return Device::conv2d_scratch_floats(in, output_dims(in), geometry(in), batch, threads);
  }

  template <class Device, class T>
  static void forward(const ForwardArgs<T>& a) {
    const std::size_t weights = static_cast<std::size_t>(Filters) * a.x.dims.c * Kernel * Kernel;
    Device::conv2d_forward(a.x, a.y, a.params, a.params + weights, geometry(a.x.dims), a.scratch, a.step);
  }

  // forward followed by ReLU, written once: Model calls it instead of forward (and skips the
  // ReLU's forward, whose output shares this buffer) when a ReLU follows and the backend has
  // conv2d_forward_relu.
  template <class Device, class T>
  static void forward_relu(const ForwardArgs<T>& a) {
    const std::size_t weights = static_cast<std::size_t>(Filters) * a.x.dims.c * Kernel * Kernel;
    Device::conv2d_forward_relu(a.x, a.y, a.params, a.params + weights, geometry(a.x.dims), a.scratch, a.step);
  }

  template <class Device, class T>
  static void backward(const BackwardArgs<T>& a) {
    const std::size_t weights = static_cast<std::size_t>(Filters) * a.x.dims.c * Kernel * Kernel;
    Device::conv2d_backward(a.x, a.dy, a.dx, a.params, a.param_grads, a.param_grads + weights,
                            geometry(a.x.dims), a.scratch, a.step);
  }

  // backward of the pair forward_relu computed: a.y is the ReLU's output, a.dy its gradient
  // (Model calls it instead of the ReLU's backward and this one, where the backend has
  // conv2d_backward_relu).
  template <class Device, class T>
  static void backward_relu(const BackwardArgs<T>& a) {
    const std::size_t weights = static_cast<std::size_t>(Filters) * a.x.dims.c * Kernel * Kernel;
    Device::conv2d_backward_relu(a.x, a.y, a.dy, a.dx, a.params, a.param_grads, a.param_grads + weights,
                                 geometry(a.x.dims), a.scratch, a.step);
  }
};

}  // namespace strata
