// strata/core/layer.hpp: what a layer receives when it runs, and how it describes its tensors.
//
// A layer spec (Conv<32, 3>, ReLU, ...) is a stateless type with constexpr shape rules. When a
// Model runs it, the layer gets a ForwardArgs / BackwardArgs holding views into memory the Model
// owns: its input and output, its slice of the flat parameter and gradient buffers, its
// persistent state (running statistics), what it saved for backward, and shared scratch space.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "strata/core/bfloat16.hpp"
#include "strata/core/compile_text.hpp"
#include "strata/core/device.hpp"
#include "strata/core/tensor.hpp"

namespace strata {

// How a parameter tensor is initialised.
enum class InitRole : std::uint8_t {
  weight,  // Glorot- or He-uniform from fan_in / fan_out
  zeros,   // biases, BatchNorm beta
  ones,    // BatchNorm gamma
};

enum class Init : std::uint8_t {
  glorot_uniform,  // Keras' default: U(-l, l), l = sqrt(6 / (fan_in + fan_out))
  he_uniform,      // PyTorch's kaiming_uniform for ReLU: l = sqrt(6 / fan_in)
};

// One named tensor of a layer: a trainable parameter or a persistent buffer (running stats).
struct TensorInfo {
  std::string_view name;  // "weight", "bias", "running_mean", ...
  int rank = 1;
  int extent[4] = {0, 0, 0, 0};
  InitRole init = InitRole::zeros;
  int fan_in = 0;
  int fan_out = 0;

  constexpr std::size_t size() const {
    std::size_t n = 1;
    for (int i = 0; i < rank; ++i) n *= static_cast<std::size_t>(extent[i]);
    return n;
  }
};

// Facts shared by every call of one step.
struct StepInfo {
  bool training = true;
  std::uint64_t seed = 0;       // the model's seed
  std::uint64_t step = 0;       // counts training forward passes: varies dropout masks
  int threads = 1;              // worker threads the CPU backend may use
  DeviceContext* context = nullptr;  // the Model's Device::Context (CUDA: stream, cuDNN handle)
};

// T is the scalar of the activations and their gradients; parameters, persistent state, what is
// saved and the scratch memory are in P = parameter_t<T> (float for a bfloat16 model, else T).
template <class T>
struct ForwardArgs {
  using P = parameter_t<T>;
  BasicTensor<const T> x;   // input
  BasicTensor<T> y;         // output
  const P* params = nullptr;
  P* state = nullptr;       // persistent, non-trainable (BatchNorm running statistics)
  P* saved = nullptr;       // written here, read by backward in the same step
  P* scratch = nullptr;     // transient; valid only during this call
  int index = 0;            // position in the stack (streams dropout randomness)
  StepInfo step{};
  BasicTensor<const T> skip{};  // a skip block's join: the block's input (layers/skip.hpp)
};

template <class T>
struct BackwardArgs {
  using P = parameter_t<T>;
  BasicTensor<const T> x;   // the forward input
  BasicTensor<const T> y;   // the forward output
  BasicTensor<const T> dy;  // gradient of the loss with respect to y
  BasicTensor<T> dx;        // written; dx.data == nullptr when no input gradient is needed
  const P* params = nullptr;
  P* param_grads = nullptr; // written (not accumulated)
  const P* state = nullptr;
  const P* saved = nullptr;
  P* scratch = nullptr;
  int index = 0;
  StepInfo step{};
  // A skip block's join writes the skip's share of its dy here and the block's SkipInput adds it
  // to its dx (batch x the block's input dims; layers/skip.hpp); null for other layers.
  T* skip_gradient = nullptr;
};

// What every layer spec provides, with the defaults of a parameter-free, shape-preserving
// layer. A spec derives from it and hides what differs:
//   kind                 short lower-case name used in tensor names ("conv" -> "0.conv.weight")
//   name()               CompileText such as "Conv<32, 3>", for summaries and compile errors
//   check(in)            empty when the layer accepts input shape `in`, else the reason
//   output_dims(in)      the shape rule
//   parameter(i, in)     trainable tensor i of parameter_tensors
//   buffer(i, in)        persistent non-trainable tensor i of buffer_tensors (saved with weights)
//   saved_floats(in, n)  memory kept from forward to backward for a batch of n
//   scratch_floats<Device>(in, n, threads)  transient memory for one call (backend-specific)
//   forward_flops(in)    floating-point operations per sample of the forward pass (a multiply-add
//                        counts 2); backward_flops(in, input_gradient) those of the backward pass
//   forward<Device>(ForwardArgs<T>) and backward<Device>(BackwardArgs<T>)
struct LayerDefaults {
  static constexpr CompileText check(Dims) { return {}; }
  static constexpr Dims output_dims(Dims in) { return in; }
  static constexpr int parameter_tensors = 0;
  static constexpr TensorInfo parameter(int, Dims) { return {}; }
  static constexpr int buffer_tensors = 0;
  static constexpr TensorInfo buffer(int, Dims) { return {}; }
  static constexpr std::size_t saved_floats(Dims, int) { return 0; }
  template <class Device>
  static std::size_t scratch_floats(Dims, int, int) { return 0; }
  static constexpr double forward_flops(Dims in) { return static_cast<double>(in.size()); }
  static constexpr double backward_flops(Dims in, bool input_gradient) {
    return input_gradient ? 2.0 * static_cast<double>(in.size()) : 0.0;
  }
};

}  // namespace strata
