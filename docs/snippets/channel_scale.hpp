// docs/snippets/channel_scale.hpp: a layer written outside strata, for docs/adding-a-layer.md
// (compiled and gradient-checked by docs/snippets/channel_scale_test.cpp).
//
// ChannelScale
//   input   C x H x W -> output C x H x W, y[n, c, h, w] = weight[c] * x[n, c, h, w]
//   params  weight [C], ones
//   requires nothing of the input shape
#pragma once

#include <strata/strata.hpp>

// [spec]
// The kernels, one specialisation per backend; the layer names only ChannelScaleKernels<Device>.
template <class Device>
struct ChannelScaleKernels;

struct ChannelScale : strata::LayerDefaults {
  static constexpr const char* kind = "channel_scale";  // tensor names: "3.channel_scale.weight"
  static constexpr strata::CompileText name() { return "ChannelScale"; }

  // The shape rule and its check: LayerDefaults' (the shape is kept, every input is accepted).
  // A layer that changes the shape defines output_dims(Dims) and check(Dims) here.

  static constexpr int parameter_tensors = 1;
  static constexpr strata::TensorInfo parameter(int, strata::Dims in) {
    return {"weight", 1, {in.c, 0, 0, 0}, strata::InitRole::ones, 0, 0};
  }

  static constexpr double forward_flops(strata::Dims in) { return static_cast<double>(in.size()); }

  template <class Device, class T>
  static void forward(const strata::ForwardArgs<T>& a) {
    ChannelScaleKernels<Device>::forward(a.x, a.y, a.params, a.step);
  }

  template <class Device, class T>
  static void backward(const strata::BackwardArgs<T>& a) {
    ChannelScaleKernels<Device>::backward(a.x, a.dy, a.dx, a.params, a.param_grads, a.step);
  }
};
// [spec]

// [cpu]
template <>
struct ChannelScaleKernels<strata::Cpu> {
  // One (sample, channel) plane per work item, split over the model's threads.
  template <class T>
  static void forward(strata::BasicTensor<const T> x, strata::BasicTensor<T> y, const T* weight,
                      const strata::StepInfo& step) {
    const std::size_t plane = x.dims.plane();
    strata::cpu::parallel_for(x.batch * x.dims.c, step.threads, [&](int begin, int end, int) {
      for (int p = begin; p < end; ++p) {
        const T a = weight[p % x.dims.c];
        for (std::size_t i = p * plane; i < (p + 1) * plane; ++i) y.data[i] = a * x.data[i];
      }
    });
  }

  // dx = weight[c] * dy (when dx is wanted); dweight[c] = sum over n, h, w of x * dy, written.
  template <class T>
  static void backward(strata::BasicTensor<const T> x, strata::BasicTensor<const T> dy,
                       strata::BasicTensor<T> dx, const T* weight, T* dweight, const strata::StepInfo& step) {
    const int channels = x.dims.c;
    const std::size_t plane = x.dims.plane();
    strata::cpu::parallel_for(channels, step.threads, [&](int begin, int end, int) {
      for (int c = begin; c < end; ++c) {
        T sum = T(0);
        for (int n = 0; n < x.batch; ++n) {
          const std::size_t first = (static_cast<std::size_t>(n) * channels + c) * plane;
          for (std::size_t i = first; i < first + plane; ++i) {
            sum += x.data[i] * dy.data[i];
            if (dx.data != nullptr) dx.data[i] = weight[c] * dy.data[i];
          }
        }
        dweight[c] = sum;
      }
    });
  }
};
// [cpu]
