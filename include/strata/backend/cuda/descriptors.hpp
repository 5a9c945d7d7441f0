// strata/backend/cuda/descriptors.hpp: owning cuDNN descriptors for tensors (float or bfloat16,
// channels first or last), filters and convolutions.
//
// cuDNN describes every operand by a descriptor object that must be created and destroyed. These
// own one each (move-only) so the per-layer plans in the context (context.hpp) free theirs. The
// legacy (non-graph) cuDNN API is used: deprecated in cuDNN 9 but complete and still shipped, and
// far shorter to get right. Moving to the graph API would bring asymmetric padding and fused
// bias + activation epilogues.
#pragma once

#include <type_traits>
#include <utility>

#include <cudnn.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/core/bfloat16.hpp"
#include "strata/core/shape.hpp"

namespace strata::cuda {

template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor() { check(Create(&handle_), "cudnnCreate*Descriptor"); }
  ~Descriptor() {
    if (handle_ != nullptr) (void)Destroy(handle_);
  }
  Descriptor(Descriptor&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  Handle get() const { return handle_; }

 private:
  Handle handle_ = nullptr;
};

using TensorDescriptor =
    Descriptor<cudnnTensorDescriptor_t, &cudnnCreateTensorDescriptor, &cudnnDestroyTensorDescriptor>;
using FilterDescriptor =
    Descriptor<cudnnFilterDescriptor_t, &cudnnCreateFilterDescriptor, &cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, &cudnnCreateConvolutionDescriptor, &cudnnDestroyConvolutionDescriptor>;
using ActivationDescriptor =
    Descriptor<cudnnActivationDescriptor_t, &cudnnCreateActivationDescriptor, &cudnnDestroyActivationDescriptor>;

// cuDNN's name for the scalar T (float or strata::bfloat16).
template <class T>
constexpr cudnnDataType_t data_type() {
  static_assert(std::is_same_v<T, float> || is_bfloat16<T>, "strata::Cuda stores float or bfloat16 tensors");
  return is_bfloat16<T> ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

inline cudnnTensorFormat_t tensor_format(bool channels_last) {
  return channels_last ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
}

// A batch of C x H x W images, NCHW or (channels_last) NHWC.
inline TensorDescriptor tensor_descriptor(int batch, Dims d, cudnnDataType_t type = CUDNN_DATA_FLOAT,
                                          bool channels_last = false) {
  TensorDescriptor t;
  STRATA_CUDA_CHECK(
      cudnnSetTensor4dDescriptor(t.get(), tensor_format(channels_last), type, batch, d.c, d.h, d.w));
  return t;
}

// One value per channel (1 x C x 1 x 1): biases, BatchNorm's scale, shift and statistics (the
// same memory in either layout).
inline TensorDescriptor channel_descriptor(int channels) { return tensor_descriptor(1, Dims{channels, 1, 1}); }

// Weights [filters, channels, k, k] (strata's OIHW layout), or with channels last
// [filters, k, k, channels] (cuDNN's KRSC: the layout its NHWC convolutions want; conv.hpp
// transposes the weights into it).
inline FilterDescriptor filter_descriptor(int filters, int channels, int kernel,
                                          cudnnDataType_t type = CUDNN_DATA_FLOAT, bool channels_last = false) {
  FilterDescriptor f;
  STRATA_CUDA_CHECK(cudnnSetFilter4dDescriptor(f.get(), type, tensor_format(channels_last), filters, channels, kernel,
                                               kernel));
  return f;
}

// A cross-correlation (what Keras and PyTorch call convolution) with symmetric padding, fp32
// accumulation and the given math type (CUDNN_FMA_MATH: exact fp32; CUDNN_DEFAULT_MATH: tensor
// cores may run it in TF32).
inline ConvolutionDescriptor convolution_descriptor(int pad_h, int pad_w, int stride, cudnnMathType_t math) {
  ConvolutionDescriptor c;
  STRATA_CUDA_CHECK(cudnnSetConvolution2dDescriptor(c.get(), pad_h, pad_w, stride, stride, 1, 1,
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  STRATA_CUDA_CHECK(cudnnSetConvolutionMathType(c.get(), math));
  return c;
}

// max(x, 0), a NaN giving 0 as strata's relu does (core/elementwise.hpp): the activation of a
// convolution with a fused ReLU (conv.hpp).
inline ActivationDescriptor relu_descriptor() {
  ActivationDescriptor a;
  STRATA_CUDA_CHECK(cudnnSetActivationDescriptor(a.get(), CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  return a;
}

}  // namespace strata::cuda
