// strata/core/elementwise.hpp: the per-element math of activations, losses and optimizers.
//
// Written once, templated on the scalar so the gradient tests run it in double, and marked
// STRATA_HOST_DEVICE so the CUDA kernels call these same functions. Backward functions take the
// layer's *output* where that suffices, so activations need not keep their inputs.
#pragma once

#include <cmath>
#include <cstdint>

#include "strata/core/float_bits.hpp"
#include "strata/core/host_device.hpp"

namespace strata::elementwise {

// ---- activations: forward(x) and backward(output y, upstream gradient g) ----
// False for NaN and +-infinity: both make x - x NaN, and NaN == 0 is false. (strata is never
// built with -ffast-math, which would fold this to true.)
template <class T>
STRATA_HOST_DEVICE inline bool is_finite(T x) { return x - x == T(0); }

template <class T>
STRATA_HOST_DEVICE inline T relu(T x) { return x > T(0) ? x : T(0); }
template <class T>
STRATA_HOST_DEVICE inline T relu_backward(T y, T g) { return y > T(0) ? g : T(0); }

// Requires slope > 0, so the sign of the output equals the sign of the input.
template <class T>
STRATA_HOST_DEVICE inline T leaky_relu(T x, T slope) { return x > T(0) ? x : slope * x; }
template <class T>
STRATA_HOST_DEVICE inline T leaky_relu_backward(T y, T g, T slope) { return y > T(0) ? g : slope * g; }

template <class T>
STRATA_HOST_DEVICE inline T sigmoid(T x) {
  // Two branches so that exp never overflows.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
template <class T>
STRATA_HOST_DEVICE inline T sigmoid_backward(T y, T g) { return g * y * (T(1) - y); }

template <class T>
STRATA_HOST_DEVICE inline T tanh_forward(T x) { return std::tanh(x); }
template <class T>
STRATA_HOST_DEVICE inline T tanh_backward(T y, T g) { return g * (T(1) - y * y); }

// ---- dropout: keep element `index` when its counter-based uniform draw is >= rate ----
template <class T>
STRATA_HOST_DEVICE inline T dropout_scale(float draw, T rate) {
  return draw >= static_cast<float>(rate) ? T(1) / (T(1) - rate) : T(0);
}

// ---- losses: per-element value and its derivative with respect to the prediction ----
// Binary cross-entropy on probabilities. The prediction is clamped to [eps, 1 - eps] (Keras'
// epsilon, 1e-7) so log(0) cannot happen; the gradient uses the same clamp in its denominator,
// which keeps it finite and non-zero for saturated outputs (as PyTorch's BCELoss does).
template <class T>
STRATA_HOST_DEVICE inline T bce_clamp(T p) {
  const T eps = T(1e-7);
  return p < eps ? eps : (p > T(1) - eps ? T(1) - eps : p);
}
template <class T>
STRATA_HOST_DEVICE inline T binary_cross_entropy(T p, T t) {
  const T q = bce_clamp(p);
  return -(t * std::log(q) + (T(1) - t) * std::log(T(1) - q));
}
template <class T>
STRATA_HOST_DEVICE inline T binary_cross_entropy_gradient(T p, T t) {
  const T q = bce_clamp(p);
  return (p - t) / (q * (T(1) - q));
}

template <class T>
STRATA_HOST_DEVICE inline T squared_error(T p, T t) { return (p - t) * (p - t); }
template <class T>
STRATA_HOST_DEVICE inline T squared_error_gradient(T p, T t) { return T(2) * (p - t); }

// ---- batch normalization, per channel, in double ----
// y = x * scale + shift: scale = gamma * inv_std, shift = beta - mean * gamma * inv_std, each
// rounded once to the parameters' type P.
template <class P>
struct BatchNormAffine {
  P scale, shift;
};
template <class P>
STRATA_HOST_DEVICE inline BatchNormAffine<P> batch_norm_affine(double gamma, double beta, double mean,
                                                               double inv_std) {
  return {static_cast<P>(gamma * inv_std), static_cast<P>(beta - mean * gamma * inv_std)};
}
// The running statistics' update from a batch's value.
STRATA_HOST_DEVICE inline double running_average(double running, double batch_value, double momentum) {
  return momentum * running + (1.0 - momentum) * batch_value;
}

// ---- metrics ----
// std::round(x) (halves away from zero) on the float's bits, so that the binary-accuracy loop
// vectorises on the CPU (2 x 786,432 values per v1 batch of 64, which through libm's roundf took
// longer than a GPU training step; GCC vectorises neither roundf nor, under its default
// -ftrapping-math, truncf or a conversion to int) and the GPU runs the same rule. For
// 0 <= exponent < 23, half an integer unit is added to the magnitude and the fraction bits
// cleared (a carry into the exponent is right); [0.5, 1) rounds to 1, smaller magnitudes to 0;
// from 2^23 on a float is whole, infinite or NaN and stays as it is. The sign is kept, as
// std::round keeps it (-0.3 -> -0).
STRATA_HOST_DEVICE inline float round_half_away(float x) {
  const std::uint32_t bits = float_bits(x);
  const std::uint32_t sign = bits & 0x80000000u;
  const std::uint32_t magnitude = bits ^ sign;
  const int exponent = static_cast<int>(magnitude >> 23) - 127;
  const int unclamped = 23 - exponent;  // fraction bits; only used where 0 <= exponent < 23
  const int fraction_bits = unclamped < 1 ? 1 : (unclamped > 23 ? 23 : unclamped);
  const std::uint32_t fraction_mask = (std::uint32_t{1} << fraction_bits) - 1u;
  const std::uint32_t rounded = (magnitude + (std::uint32_t{1} << (fraction_bits - 1))) & ~fraction_mask;
  const std::uint32_t result = exponent >= 23   ? magnitude
                               : exponent >= 0  ? rounded
                               : exponent == -1 ? 0x3F800000u  // 1.0f
                                                : 0u;
  return float_from_bits(result | sign);
}

// ---- optimizers: one parameter's update given its gradient and state ----
// Hyperparameters in double, as the user gave them; each kernel rounds them to its scalar once.
struct AdamStep {
  double lr, beta1, beta2, epsilon;
  double bias_correction1;  // 1 - beta1^t
  double bias_correction2;  // 1 - beta2^t
  double weight_decay;      // L2 penalty added to the gradient (0: none)
};
// PyTorch's form: p -= lr * m_hat / (sqrt(v_hat) + epsilon).
template <class T>
STRATA_HOST_DEVICE inline void adam_update(T& p, T g, T& m, T& v, const AdamStep& s) {
  g += T(s.weight_decay) * p;
  m = T(s.beta1) * m + (T(1) - T(s.beta1)) * g;
  v = T(s.beta2) * v + (T(1) - T(s.beta2)) * g * g;
  const T m_hat = m / T(s.bias_correction1);
  const T v_hat = v / T(s.bias_correction2);
  p -= T(s.lr) * m_hat / (std::sqrt(v_hat) + T(s.epsilon));
}

struct SgdStep {
  double lr, momentum, weight_decay;
  bool nesterov;
};
// PyTorch's form: v = momentum * v + g; p -= lr * (nesterov ? g + momentum * v : v).
template <class T>
STRATA_HOST_DEVICE inline void sgd_update(T& p, T g, T& velocity, const SgdStep& s) {
  g += T(s.weight_decay) * p;
  velocity = T(s.momentum) * velocity + g;
  p -= T(s.lr) * (s.nesterov ? g + T(s.momentum) * velocity : velocity);
}

}  // namespace strata::elementwise
