// strata/backend/cuda/conv_plan.hpp: what the CUDA backend keeps per convolution shape.
//
// A ConvPlan holds the cuDNN descriptors of one convolution layer at one batch size and
// precision, and the algorithms chosen for its three passes (forward, backward-data,
// backward-filter) the first time each runs. The context (context.hpp) caches plans, so
// descriptors are built and algorithms searched once per layer shape, not per step.
//
// Padding: cuDNN's legacy API pads symmetrically. Keras' Same padding is asymmetric for even
// kernels and for some strided shapes (the extra row goes at the bottom); those layers copy the
// input into an explicitly zero-padded buffer in the scratch memory and run an unpadded
// convolution on it (and crop the input gradient back).
//
// Scratch: the Model's scratch buffer (sized by conv_scratch_floats for the largest layer at
// max_batch) holds, per call, [padded input | padded input gradient | output gradient through
// the ReLU | bias-gradient partial sums | weights and weight gradient as cuDNN reads and writes
// them | cuDNN workspace] (bias.cuh; the weight region serves bfloat16 models, whose weights cuDNN
// reads in bf16, and channels-last activations, whose weights it reads in KRSC order (conv.hpp);
// reserved for every model: twice a layer's weights in float, 2.4 MB for the largest of ConvNet
// v2). Regions are sized in floats;
// a bfloat16 model's activations use half of theirs. The workspace
// budget is the size an im2col of the whole batch would take, clamped to [16 MiB, 1 GiB];
// algorithms needing more are not considered.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <cudnn.h>

#include "strata/backend/cuda/conv_engines.hpp"
#include "strata/backend/cuda/descriptors.hpp"
#include "strata/backend/cuda/precision.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/shape.hpp"
#include "strata/core/window.hpp"
#include "strata/layers/conv.hpp"

namespace strata::cuda {

// Scratch regions of one convolution call, in floats; each a multiple of 64 floats (256 bytes),
// so every region starts as aligned as cudaMalloc's base.
struct ConvScratch {
  std::size_t padded_input = 0;
  std::size_t padded_gradient = 0;
  std::size_t masked_gradient = 0;  // the output gradient through a following ReLU
  std::size_t bias_partials = 0;    // batch x filters doubles, x ChannelSumLanes::kChunks (channels last)
  std::size_t weights = 0;          // the weights cuDNN reads, then the weight gradient it writes
  std::size_t workspace = 0;
  constexpr std::size_t total() const {
    return padded_input + padded_gradient + masked_gradient + bias_partials + weights + workspace;
  }
};

constexpr std::size_t round_up_64(std::size_t n) { return (n + 63) / 64 * 64; }

// True when cuDNN's symmetric padding yields exactly our output (core/window.hpp).
constexpr bool symmetric_padding_fits(Dims in, Dims out, const ConvGeometry& g) {
  return window::symmetric_padding_fits(in, out, g.kernel, g.stride, g.pad_top, g.pad_left);
}

// The input of the unpadded convolution that replaces an asymmetric one.
constexpr Dims padded_input_dims(Dims in, Dims out, const ConvGeometry& g) {
  return window::padded_dims(in, out, g.kernel, g.stride);
}

constexpr std::size_t conv_weight_count(Dims in, Dims out, const ConvGeometry& g) {
  return static_cast<std::size_t>(out.c) * static_cast<std::size_t>(in.c) * g.kernel * g.kernel;
}

// Floats that hold `count` weights as cuDNN reads them (float at most), rounded up to keep the
// next region aligned.
constexpr std::size_t weight_region(std::size_t count) { return round_up_64(count); }

constexpr ConvScratch conv_scratch_layout(Dims in, Dims out, const ConvGeometry& g, int batch) {
  ConvScratch s;
  const auto n = static_cast<std::size_t>(batch);
  if (!symmetric_padding_fits(in, out, g)) {
    s.padded_input = round_up_64(n * padded_input_dims(in, out, g).size());
    s.padded_gradient = s.padded_input;
  }
  s.masked_gradient = round_up_64(n * out.size());
  s.bias_partials = round_up_64(2 * n * static_cast<std::size_t>(out.c) * ChannelSumLanes::kChunks);
  s.weights = 2 * weight_region(conv_weight_count(in, out, g));
  const std::size_t im2col = n * static_cast<std::size_t>(in.c) * g.kernel * g.kernel * out.plane();
  constexpr std::size_t min_floats = std::size_t{4} << 20;    // 16 MiB
  constexpr std::size_t max_floats = std::size_t{256} << 20;  // 1 GiB
  s.workspace = round_up_64(std::clamp(im2col, min_floats, max_floats));
  return s;
}

struct ConvKey {
  Dims in{};
  Dims out{};
  ConvGeometry geometry{};
  int batch = 0;
  Precision precision = Precision::fp32;
  bool deterministic = false;  // only algorithms cuDNN reports as deterministic
  bool bfloat16 = false;       // bf16 input, weights and output, fp32 accumulation (tensor cores)
  bool channels_last = false;  // NHWC activations, KRSC weights (core/layout.hpp)
  bool graph_engines = false;  // cuDNN's graph-API engines considered too (conv_engines.hpp)
  DirectConvolutions direct = DirectConvolutions::off;  // strata's direct kernels (direct_conv.cuh)

  bool operator==(const ConvKey& o) const {
    return in == o.in && out == o.out && geometry.kernel == o.geometry.kernel &&
           geometry.stride == o.geometry.stride && geometry.pad_top == o.geometry.pad_top &&
           geometry.pad_left == o.geometry.pad_left && batch == o.batch && precision == o.precision &&
           deterministic == o.deterministic && bfloat16 == o.bfloat16 && channels_last == o.channels_last &&
           graph_engines == o.graph_engines && direct == o.direct;
  }
};

// An algorithm chosen for one pass: what to run, and its math type; or, where a graph-API engine
// was chosen instead (conv_engines.hpp, conv.hpp's consider_graph_engines), that engine (the
// legacy algorithm is still kept: cuDNN's fused bias + ReLU call needs one, and so does a layer
// whose operands the engine does not accept); or strata's direct kernel (direct_conv.cuh), which
// then runs the pass whatever the rest says.
template <class Algorithm>
struct ChosenAlgorithm {
  Algorithm algorithm{};
  cudnnMathType_t math = CUDNN_FMA_MATH;
  std::size_t workspace_bytes = 0;
  std::shared_ptr<ConvEngine> engine;
  bool direct = false;
};

// Whether cuDNN runs this plan's convolution with bias and ReLU in one call, found on the first
// fused forward (conv.hpp).
enum class ReluFusion : unsigned char { untried, fused, unfused };

struct ConvPlan {
  ConvKey key;
  bool padded = false;  // explicit zero padding (see the header comment)
  Dims conv_input{};    // the input cuDNN sees: key.in, or its padded version
  TensorDescriptor x, y, bias;
  FilterDescriptor w;
  // One convolution descriptor per pass: each carries the math type of its own algorithm.
  ConvolutionDescriptor forward_conv, data_conv, filter_conv;
  std::optional<ChosenAlgorithm<cudnnConvolutionFwdAlgo_t>> forward;
  std::optional<ChosenAlgorithm<cudnnConvolutionBwdDataAlgo_t>> backward_data;
  std::optional<ChosenAlgorithm<cudnnConvolutionBwdFilterAlgo_t>> backward_filter;
  ActivationDescriptor relu;  // for the fused forward
  ReluFusion relu_fusion = ReluFusion::untried;
  const char* relu_fusion_status = "";  // cuDNN's answer when it refused the fused call
  std::string search_log;  // every algorithm each pass's search returned, and the choice
  int direct_trials_failed = 0;  // direct kernels that failed while timed (cuDNN's choice kept)

  // The convolution as cuDNN's graph API sees it, and the engines its precision allows.
  EngineShape engine_shape() const {
    return EngineShape{key.batch,
                       conv_input,
                       key.out,
                       key.geometry.kernel,
                       key.geometry.stride,
                       padded ? 0 : key.geometry.pad_top,
                       padded ? 0 : key.geometry.pad_left,
                       element_type(key),
                       key.channels_last};
  }
  EngineRules engine_rules() const {
    return EngineRules{key.bfloat16 || key.precision == Precision::tf32, key.deterministic};
  }

  explicit ConvPlan(const ConvKey& k)
      : key(k),
        padded(!symmetric_padding_fits(k.in, k.out, k.geometry)),
        conv_input(padded ? padded_input_dims(k.in, k.out, k.geometry) : k.in),
        x(tensor_descriptor(k.batch, conv_input, element_type(k), k.channels_last)),
        y(tensor_descriptor(k.batch, k.out, element_type(k), k.channels_last)),
        bias(channel_descriptor(k.out.c)),
        w(filter_descriptor(k.out.c, k.in.c, k.geometry.kernel, element_type(k), k.channels_last)),
        forward_conv(make_conv(k, padded)),
        data_conv(make_conv(k, padded)),
        filter_conv(make_conv(k, padded)),
        relu(relu_descriptor()) {}

 private:
  static cudnnDataType_t element_type(const ConvKey& k) { return k.bfloat16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT; }
  static ConvolutionDescriptor make_conv(const ConvKey& k, bool padded) {
    const int pad_h = padded ? 0 : k.geometry.pad_top;
    const int pad_w = padded ? 0 : k.geometry.pad_left;
    const cudnnMathType_t math = k.bfloat16 ? CUDNN_TENSOR_OP_MATH
                                 : k.precision == Precision::fp32 ? CUDNN_FMA_MATH
                                                                  : CUDNN_DEFAULT_MATH;
    return convolution_descriptor(pad_h, pad_w, k.geometry.stride, math);
  }
};

}  // namespace strata::cuda
