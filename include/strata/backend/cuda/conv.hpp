// strata/backend/cuda/conv.hpp: convolution with bias on the GPU through cuDNN.
//
//   forward          y = conv(x, W) (cudnnConvolutionForward), then y += b (cudnnAddTensor)
//   backward-filter  dW = cudnnConvolutionBackwardFilter(x, dy), db = sum of dy (bias.cuh)
//   backward-data    dx = cudnnConvolutionBackwardData(W, dy), when the input gradient is needed
// Gradients are written (beta = 0), not accumulated, as the CPU backend does.
//
// Each pass's algorithm is chosen the first time it runs for a layer shape, batch size and
// precision (conv_plan.hpp), by timing every algorithm on the layer's own buffers
// (cudnnFind*Ex) or by cuDNN's heuristics (Context::set_algorithm_search), and only among those
// whose workspace fits the budget in the scratch memory and whose math the precision allows. The
// search runs on the first step; later steps reuse the choice.
//
// Conv followed by ReLU (conv2d_forward_relu, for a Model that runs such a pair as one pass):
// y = relu(conv(x, W) + b) in one cudnnConvolutionBiasActivationForward call, or as the
// convolution followed by one bias + ReLU pass of strata's (bias.cuh): the second where cuDNN
// refuses the fused call for the layer's chosen algorithm, or where timing both on the first call
// (with AlgorithmSearch::benchmark) finds it faster. The choice is made on the first call, which
// is eager, and kept in the plan. The two differ for a NaN: cuDNN's fused call passes it on
// whatever its activation descriptor says, strata's pass (the CPU's ReLU) turns it into 0. The
// pair's backward (conv2d_backward_relu) masks the gradient by the ReLU's output in the pass
// that sums the bias gradient, into scratch, and runs cuDNN's two backward passes on that.
//
// Graph engines (Context::set_graph_engines, off by default): each pass's first call also looks
// at the engines cuDNN's graph API offers for it (conv_engines.hpp) and keeps an engine where one
// ran faster than the legacy algorithm, or with the heuristic search the first usable engine that
// runs (consider_graph_engines). cuDNN's fused bias + ReLU call exists only in the legacy API:
// with an engine for a pair's forward pass, that call (with the legacy algorithm) is timed
// against the engine followed by strata's bias + ReLU pass; untimed (heuristic search,
// determinism), the engine and strata's pass run.
//
// A bfloat16 model (core/bfloat16.hpp): x, y and the gradients are bf16; cuDNN convolves bf16
// with fp32 accumulation on tensor cores, reading a bf16 copy of the float weights made in
// scratch before each pass, and writing a bf16 weight gradient that is widened into the float
// gradient (convert.cuh). Bias and ReLU always run as strata's pass (float bias, float math).
//
// Direct kernels (Context::set_direct_convolutions, direct_conv.cuh): a pass of a layer with at
// most 4 channels on one side (stride 1, kernel up to 3) may run on strata's own kernel instead,
// timed against cuDNN's choice on its first call and checked against its result
// (consider_direct_kernel). Off by default. Such a pass reads the unpadded input and the float
// weights in strata's order in either layout, and a forward pass adds the bias (and applies the
// ReLU) itself.
//
// Channels-last activations (Context::set_channels_last): cuDNN convolves NHWC tensors with KRSC
// weights. The weights stay in strata's NCHW order ([filters][channels][k][k]: checkpoints, the
// optimizer, the CPU); before each pass that reads them they are transposed (and for bf16
// rounded) into scratch, and the KRSC weight gradient cuDNN writes there is transposed back into
// the float gradient (layout.cuh). The bias is added by strata's pass in that layout, or with a
// ReLU possibly by cuDNN's fused call (its 1 x K x 1 x 1 bias is the same memory in either layout).
#pragma once

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <cudnn.h>

#include "strata/backend/cuda/bias.cuh"
#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/conv_engines.hpp"
#include "strata/backend/cuda/conv_plan.hpp"
#include "strata/backend/cuda/convert.cuh"
#include "strata/backend/cuda/direct_conv.cuh"
#include "strata/backend/cuda/layout.cuh"
#include "strata/backend/cuda/padding.cuh"
#include "strata/core/tensor.hpp"
#include "strata/layers/conv.hpp"

namespace strata::cuda {

// Floats of the Model's scratch a convolution needs at this batch (the Model keeps the largest).
inline std::size_t conv2d_scratch_floats(Dims in, Dims out, const ConvGeometry& g, int batch, int /*threads*/) {
  return conv_scratch_layout(in, out, g, batch).total();
}

namespace detail {

// The first (fastest, as cuDNN orders them) usable result: it ran, its workspace fits, and its
// math is allowed: never fp16 down-conversion; tensor-core (TF32) math only in tf32 precision;
// a deterministic algorithm when the context asks for one (Context::set_deterministic).
// In fp32 the descriptor keeps CUDNN_FMA_MATH; in tf32 and bf16 it takes the chosen algorithm's math.
// Every candidate and the choice go into the plan's search log (Context::describe_convolutions).
template <class Perf>
auto pick_algorithm(const char* search, const Perf* results, int count, std::size_t budget, ConvPlan& plan,
                    cudnnConvolutionDescriptor_t conv) {
  const ConvKey& key = plan.key;
  const Precision precision = key.precision;
  std::optional<ChosenAlgorithm<decltype(results[0].algo)>> chosen;
  std::string log = std::string("  ") + search + ":";
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    log += "\n    algo " + std::to_string(static_cast<int>(r.algo)) + " math " +
           std::to_string(static_cast<int>(r.mathType)) + " " + std::to_string(r.time) + " ms " +
           DeviceOutOfMemory::bytes_text(r.memory) + " " + cudnnGetErrorString(r.status);
    if (chosen) continue;
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > budget) continue;
    if (key.deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
    if (r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    if (precision == Precision::fp32 && !key.bfloat16 && r.mathType == CUDNN_TENSOR_OP_MATH) continue;
    if (precision == Precision::tf32 || key.bfloat16) STRATA_CUDA_CHECK(cudnnSetConvolutionMathType(conv, r.mathType));
    chosen = ChosenAlgorithm<decltype(r.algo)>{r.algo, r.mathType, r.memory, nullptr};
    log += "  <- chosen";
  }
  plan.search_log += log + "\n";
  if (chosen) return *chosen;
  throw DeviceError(search, "no algorithm among " + std::to_string(count) + " ran within the " +
                                DeviceOutOfMemory::bytes_text(budget) + " workspace budget in this precision" +
                                (key.deterministic ? " among deterministic algorithms" : ""),
                    "this is a strata bug or an unsupported shape; report the layer and the GPU");
}

inline ChosenAlgorithm<cudnnConvolutionFwdAlgo_t> choose_forward(Context& ctx, ConvPlan& p, const void* x,
                                                                 const void* w, void* y, void* workspace,
                                                                 std::size_t bytes) {
  cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.forward_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionForwardAlgorithmEx(ctx.cudnn(), p.x.get(), x, p.w.get(), w, conv, p.y.get(),
                                                             y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results,
                                                             workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn(), p.x.get(), p.w.get(), conv, p.y.get(),
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, results));
  }
  return pick_algorithm("choosing a forward convolution algorithm", results, count, bytes, p, conv);
}

inline ChosenAlgorithm<cudnnConvolutionBwdDataAlgo_t> choose_backward_data(Context& ctx, ConvPlan& p, const void* w,
                                                                           const void* dy, void* dx,
                                                                           void* workspace, std::size_t bytes) {
  cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.data_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(ctx.cudnn(), p.w.get(), w, p.y.get(), dy, conv,
                                                                  p.x.get(), dx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                  &count, results, workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn(), p.w.get(), p.y.get(), conv, p.x.get(),
                                                                  CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                                  results));
  }
  return pick_algorithm("choosing a backward-data convolution algorithm", results, count, bytes, p, conv);
}

inline ChosenAlgorithm<cudnnConvolutionBwdFilterAlgo_t> choose_backward_filter(Context& ctx, ConvPlan& p,
                                                                               const void* x, const void* dy,
                                                                               void* dw, void* workspace,
                                                                               std::size_t bytes) {
  cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int count = 0;
  ctx.require_eager("choosing a convolution algorithm (its first step at this shape runs eagerly)");
  const cudnnConvolutionDescriptor_t conv = p.filter_conv.get();
  if (ctx.algorithm_search() == AlgorithmSearch::benchmark) {
    STRATA_CUDA_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        ctx.cudnn(), p.x.get(), x, p.y.get(), dy, conv, p.w.get(), dw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
        results, workspace, bytes));
  } else {
    STRATA_CUDA_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.cudnn(), p.x.get(), p.y.get(), conv,
                                                                    p.w.get(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                    &count, results));
  }
  return pick_algorithm("choosing a backward-filter convolution algorithm", results, count, bytes, p, conv);
}

// A CUDA event destroyed with its scope.
class ScopedEvent {
 public:
  ScopedEvent() { STRATA_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~ScopedEvent() { (void)cudaEventDestroy(event_); }
  ScopedEvent(const ScopedEvent&) = delete;
  ScopedEvent& operator=(const ScopedEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Milliseconds of `runs` calls of run() after one untimed call, on the context's stream.
template <class Run>
float time_on_stream(Context& ctx, int runs, Run&& run) {
  const ScopedEvent start, stop;
  run();
  STRATA_CUDA_CHECK(cudaEventRecord(start.get(), ctx.stream()));
  for (int i = 0; i < runs; ++i) run();
  STRATA_CUDA_CHECK(cudaEventRecord(stop.get(), ctx.stream()));
  STRATA_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0.0f;
  STRATA_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms;
}

// The scratch regions of one call, for activations of scalar T.
template <class T>
struct ConvBuffers {
  T* padded_input;
  T* padded_gradient;
  T* masked_gradient;
  double* bias_partials;
  T* weight_copy;      // the weights as cuDNN reads them: bf16 (a bfloat16 model), KRSC (channels last)
  T* weight_gradient;  // ... and the weight gradient as cuDNN writes it
  std::size_t weight_count;
  void* workspace;
  std::size_t workspace_bytes;
};

// Every region starts 256-byte aligned: each is a multiple of 64 floats.
template <class T, class P>
ConvBuffers<T> conv_buffers(P* scratch_memory, Dims in, Dims out, const ConvGeometry& g, int batch) {
  static_assert(std::is_same_v<P, float>, "strata::Cuda's scratch memory is float");
  const ConvScratch s = conv_scratch_layout(in, out, g, batch);
  float* padded_gradient = scratch_memory + s.padded_input;
  float* masked_gradient = padded_gradient + s.padded_gradient;
  float* bias_partials = masked_gradient + s.masked_gradient;
  float* weights = bias_partials + s.bias_partials;
  const std::size_t weight_count = conv_weight_count(in, out, g);
  return {reinterpret_cast<T*>(scratch_memory),
          reinterpret_cast<T*>(padded_gradient),
          reinterpret_cast<T*>(masked_gradient),
          reinterpret_cast<double*>(bias_partials),
          reinterpret_cast<T*>(weights),
          reinterpret_cast<T*>(weights + weight_region(weight_count)),
          weight_count,
          weights + s.weights,
          s.workspace * sizeof(float)};
}

// The input cuDNN convolves: x itself, or its zero-padded copy in scratch.
template <class T>
const T* conv_input(const ConvPlan& p, const T* x, const ConvBuffers<T>& b, cudaStream_t stream) {
  if (!p.padded) return x;
  pad_input(x, b.padded_input, p.key.batch, p.key.in, p.conv_input, p.key.geometry.pad_top, p.key.geometry.pad_left,
            p.key.channels_last, stream);
  return b.padded_input;
}

// A layer's weights [filters][channels][k][k] as `filters` images of channels x k x k (layout.cuh).
inline Dims filter_image(const ConvKey& k) { return Dims{k.in.c, k.geometry.kernel, k.geometry.kernel}; }

// The weights cuDNN reads: the float parameters, or their copy in scratch: bf16 (a bfloat16
// model) and KRSC (channels last).
template <class T>
const T* conv_weights(const ConvPlan& p, const float* weight, const ConvBuffers<T>& b, cudaStream_t stream) {
  if (p.key.channels_last) {
    to_channels_last(weight, b.weight_copy, p.key.out.c, filter_image(p.key), stream);
    return b.weight_copy;
  }
  if constexpr (is_bfloat16<T>) {
    convert(weight, b.weight_copy, b.weight_count, stream);
    return b.weight_copy;
  } else {
    return weight;
  }
}

// Where cuDNN writes the weight gradient: dweight itself, or scratch that finish_weight_gradient
// turns into dweight.
template <class T>
void* weight_gradient_target(const ConvPlan& p, float* dweight, const ConvBuffers<T>& b) {
  if (p.key.channels_last || is_bfloat16<T>) return b.weight_gradient;
  return dweight;
}
template <class T>
void finish_weight_gradient(const ConvPlan& p, float* dweight, const ConvBuffers<T>& b, cudaStream_t stream) {
  if (p.key.channels_last)
    to_channels_first(static_cast<const T*>(b.weight_gradient), dweight, p.key.out.c, filter_image(p.key), stream);
  else if constexpr (is_bfloat16<T>)
    convert(static_cast<const T*>(b.weight_gradient), dweight, b.weight_count, stream);
}

// Runs a pass on its chosen graph-API engine if it has one that accepts this layer's operands.
template <class Algorithm>
bool run_on_engine(Context& ctx, const ChosenAlgorithm<Algorithm>& chosen, const EngineOperands& operands,
                   void* workspace) {
  if (!chosen.engine || !chosen.engine->accepts(operands)) return false;
  chosen.engine->run(ctx.cudnn(), operands, workspace);
  return true;
}

// Each pass as chosen: on its graph-API engine (run_on_engine), or by the legacy call with its
// algorithm.
template <class T>
void run_forward(Context& ctx, const ConvPlan& p, const ConvBuffers<T>& b, const T* input, const T* w, T* y) {
  if (run_on_engine(ctx, *p.forward, {input, w, y}, b.workspace)) return;
  const float one = 1.0f;
  const float zero = 0.0f;
  STRATA_CUDA_CHECK(cudnnConvolutionForward(ctx.cudnn(), &one, p.x.get(), input, p.w.get(), w, p.forward_conv.get(),
                                            p.forward->algorithm, b.workspace, b.workspace_bytes, &zero, p.y.get(),
                                            y));
}
template <class T>
void run_backward_filter(Context& ctx, const ConvPlan& p, const ConvBuffers<T>& b, const T* input, const T* dy,
                         void* weight_gradient) {
  if (run_on_engine(ctx, *p.backward_filter, {input, weight_gradient, dy}, b.workspace)) return;
  const float one = 1.0f;
  const float zero = 0.0f;
  STRATA_CUDA_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn(), &one, p.x.get(), input, p.y.get(), dy,
                                                   p.filter_conv.get(), p.backward_filter->algorithm, b.workspace,
                                                   b.workspace_bytes, &zero, p.w.get(), weight_gradient));
}
template <class T>
void run_backward_data(Context& ctx, const ConvPlan& p, const ConvBuffers<T>& b, const T* w, const T* dy, T* dx) {
  if (run_on_engine(ctx, *p.backward_data, {dx, w, dy}, b.workspace)) return;
  const float one = 1.0f;
  const float zero = 0.0f;
  STRATA_CUDA_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &one, p.w.get(), w, p.y.get(), dy, p.data_conv.get(),
                                                 p.backward_data->algorithm, b.workspace, b.workspace_bytes, &zero,
                                                 p.x.get(), dx));
}

// After a candidate (a graph engine, a direct kernel) failed while being tried: waits for what it
// queued and clears a launch error it left, so that neither is blamed on the next kernel; an
// error the context cannot recover from (a fault) is thrown.
inline void recover_from_failed_candidate(Context& ctx) {
  if (cudaStreamSynchronize(ctx.stream()) == cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  (void)cudaGetLastError();  // a launch error, cleared; a fault comes back from the next wait
  check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize after a convolution candidate failed");
}

// With graph engines on (Context::set_graph_engines), right after a pass's legacy search: the
// graph API's engines for the pass (conv_engines.hpp). With AlgorithmSearch::benchmark the pass
// keeps whichever runs fastest, the legacy choice or one of the first kEngineCandidates usable
// engines, each timed over kRuns runs after an untimed one on the layer's own buffers; with
// AlgorithmSearch::heuristic, the first usable engine that runs. The legacy API runs every shape,
// so a graph cuDNN does not take, or an engine that fails, is logged and passed over.
template <class Algorithm, class RunChosen>
void consider_graph_engines(Context& ctx, ConvPlan& p, ConvPass pass, ChosenAlgorithm<Algorithm>& chosen,
                            const EngineOperands& operands, void* workspace, std::size_t budget,
                            RunChosen&& run_chosen) {
  if (!p.key.graph_engines) return;
  constexpr std::size_t kEngineCandidates = 6;
  constexpr int kRuns = 3;
  const bool timed = ctx.algorithm_search() == AlgorithmSearch::benchmark;
  std::vector<std::shared_ptr<ConvEngine>> engines;  // usable ones, best ranked first
  try {
    const EngineShape shape = p.engine_shape();
    const auto graph = engine_graph(ctx.cudnn(), shape, pass, alignment_of(operands));
    engines = usable_engines(ctx.cudnn(), graph, shape, p.engine_rules(), budget, timed ? kEngineCandidates : 3,
                             p.search_log);
  } catch (const DeviceError& e) {
    p.search_log += "  graph engines for the " + std::string(pass_name(pass)) + " pass failed: " + e.what() +
                    "; the legacy algorithm kept\n";
    return;
  }
  if (engines.empty()) {
    p.search_log += "    the legacy algorithm kept\n";
    return;
  }
  float best_ms = 0.0f;
  if (timed) {
    best_ms = time_on_stream(ctx, kRuns, run_chosen) / kRuns;
    p.search_log += "    legacy algorithm " + std::to_string(static_cast<int>(chosen.algorithm)) + ": " +
                    std::to_string(best_ms) + " ms\n";
  }
  std::shared_ptr<ConvEngine> kept;
  for (const auto& engine : engines) {
    p.search_log += "    engine " + std::to_string(engine->global_index()) + ": ";
    try {
      if (!timed) {  // the first that runs
        engine->run(ctx.cudnn(), operands, workspace);
        STRATA_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
        p.search_log += "ran\n";
        kept = engine;
        break;
      }
      const float ms = time_on_stream(ctx, kRuns, [&] { engine->run(ctx.cudnn(), operands, workspace); }) / kRuns;
      p.search_log += std::to_string(ms) + " ms\n";
      if (ms < best_ms) {
        best_ms = ms;
        kept = engine;
      }
    } catch (const DeviceError& e) {
      p.search_log += std::string("failed: ") + e.what() + "\n";
      recover_from_failed_candidate(ctx);
    }
  }
  if (!kept) {
    p.search_log += "    the legacy algorithm kept\n";
    return;
  }
  chosen.engine = kept;  // workspace_bytes stays the legacy algorithm's: it is still run (ChosenAlgorithm)
  p.search_log += "    engine " + std::to_string(kept->global_index()) + " chosen\n";
}

// y = relu(conv(x, W) + b) by cudnnConvolutionBiasActivationForward; cuDNN's status.
inline cudnnStatus_t fused_forward_relu(Context& ctx, ConvPlan& p, const ConvBuffers<float>& b, const float* input,
                                        const float* weight, const float* bias, float* y) {
  const float one = 1.0f;
  const float zero = 0.0f;
  // z = y with alpha2 = 0: no residual input.
  return cudnnConvolutionBiasActivationForward(ctx.cudnn(), &one, p.x.get(), input, p.w.get(), weight,
                                               p.forward_conv.get(), p.forward->algorithm, b.workspace,
                                               b.workspace_bytes, &zero, p.y.get(), y, p.bias.get(), bias,
                                               p.relu.get(), p.y.get(), y);
}

// The same as the chosen convolution, then strata's bias + ReLU pass.
template <class T>
void unfused_forward_relu(Context& ctx, ConvPlan& p, const ConvBuffers<T>& b, const T* input, const T* weight,
                          const float* bias, T* y) {
  run_forward(ctx, p, b, input, weight, y);
  bias_relu(y, bias, p.key.batch, ImageLayout::of(p.key.out, p.key.channels_last), ctx.stream());
}

// On a plan's first call: whether cuDNN runs the fused call for the chosen algorithm at all, and
// when algorithms are timed (AlgorithmSearch::benchmark, not deterministic), whether it is faster
// than the convolution followed by strata's bias + ReLU pass. (On an H200 in TF32 at batch 64,
// the two steps were faster for 3 of ConvNet v1's 6 pairs.) Untimed, a forward pass given a graph
// engine (consider_graph_engines) keeps the two steps, so that the engine runs. Returns whether y
// already holds the result. A refusal (any status but a failed execution, which is an error) means
// two steps.
inline bool choose_relu_fusion(Context& ctx, ConvPlan& p, const ConvBuffers<float>& b, const float* input,
                               const float* weight, const float* bias, float* y) {
  ctx.require_eager("choosing whether cuDNN fuses a convolution's bias and ReLU (its first step runs eagerly)");
  const bool timed = ctx.algorithm_search() == AlgorithmSearch::benchmark && !p.key.deterministic;
  if (!timed && p.forward->engine) {  // untimed, the graph engine chosen for the forward pass runs it
    p.relu_fusion = ReluFusion::unfused;
    p.search_log += "  bias + ReLU: strata's pass after the forward pass's graph engine\n";
    return false;
  }
  const cudnnStatus_t status = fused_forward_relu(ctx, p, b, input, weight, bias, y);
  if (status >= CUDNN_STATUS_EXECUTION_FAILED) check(status, "cudnnConvolutionBiasActivationForward");
  if (status != CUDNN_STATUS_SUCCESS) {
    p.relu_fusion = ReluFusion::unfused;
    p.relu_fusion_status = cudnnGetErrorString(status);
    p.search_log += std::string("  bias + ReLU: cuDNN refused the fused call (") + p.relu_fusion_status + ")\n";
    return false;
  }
  p.relu_fusion = ReluFusion::fused;
  if (!timed) return true;
  constexpr int kRuns = 3;
  const float fused_ms = time_on_stream(ctx, kRuns, [&] { check(fused_forward_relu(ctx, p, b, input, weight, bias, y),
                                                                "cudnnConvolutionBiasActivationForward"); });
  const float unfused_ms = time_on_stream(ctx, kRuns, [&] { unfused_forward_relu(ctx, p, b, input, weight, bias, y); });
  if (unfused_ms < fused_ms) p.relu_fusion = ReluFusion::unfused;
  p.search_log += "  bias + ReLU: fused by cuDNN " + std::to_string(fused_ms / kRuns) +
                  " ms, convolution then strata's pass " + std::to_string(unfused_ms / kRuns) + " ms: " +
                  (p.relu_fusion == ReluFusion::fused ? "fused\n" : "strata's pass\n");
  return true;
}

// ---- strata's direct kernels (direct_conv.cuh) ----

// Whether a direct kernel can run this pass of the plan (core/direct_conv.hpp's conditions; the
// backward-filter's partial sums go to the workspace).
inline bool direct_fits(const ConvPlan& p, ConvPass pass, std::size_t workspace_bytes) {
  const ConvKey& k = p.key;
  const ConvGeometry& g = k.geometry;
  if (k.direct == DirectConvolutions::off) return false;
  switch (pass) {
    case ConvPass::forward:
      return direct_conv::forward_fits(k.in.c, k.out.c, g.kernel, g.stride, k.batch, k.channels_last);
    case ConvPass::backward_data:
      return direct_conv::backward_data_fits(k.in.c, k.out.c, g.kernel, g.stride, k.batch, k.channels_last);
    case ConvPass::backward_filter:
      return direct_conv::backward_filter_fits(k.in, k.out, g.kernel, g.stride, k.batch, k.channels_last,
                                               workspace_bytes / sizeof(float));
  }
  return false;
}

// The pass on strata's direct kernel: y = conv(x) + bias (then ReLU), read from the unpadded
// input and the float weights in strata's order (no padded copy, no weight copy, no bias pass).
template <class T>
void direct_forward(Context& ctx, const ConvPlan& p, const T* x, T* y, const float* weight, const float* bias,
                    bool relu) {
  const ConvKey& k = p.key;
  const ConvGeometry& g = k.geometry;
  direct_conv_pass(x, k.in, y, k.out, k.batch, k.channels_last, weight, direct_conv::forward_weights(k.in.c, g.kernel),
                   g.kernel, bias, relu, g.pad_top, g.pad_left, ctx.stream());
}
template <class T>
void direct_backward_data(Context& ctx, const ConvPlan& p, const T* dy, T* dx, const float* weight) {
  const ConvKey& k = p.key;
  const ConvGeometry& g = k.geometry;
  direct_conv_pass(dy, k.out, dx, k.in, k.batch, k.channels_last, weight,
                   direct_conv::backward_data_weights(k.in.c, g.kernel), g.kernel, nullptr, false,
                   g.kernel - 1 - g.pad_top, g.kernel - 1 - g.pad_left, ctx.stream());
}
template <class T>
void direct_backward_filter(Context& ctx, const ConvPlan& p, const ConvBuffers<T>& b, const T* x, const T* dy,
                            float* dweight) {
  const ConvKey& k = p.key;
  const ConvGeometry& g = k.geometry;
  direct_filter_pass(x, k.in, dy, k.out, k.batch, k.channels_last, g.kernel, g.pad_top, g.pad_left,
                     static_cast<float*>(b.workspace), b.workspace_bytes / sizeof(float), dweight, ctx.stream());
}

// With DirectConvolutions::always and a shape the direct kernels take (`fits`), the pass goes to
// them without a search; false otherwise.
template <class Algorithm>
bool direct_without_search(ConvPlan& p, ConvPass pass, bool fits, std::optional<ChosenAlgorithm<Algorithm>>& choice) {
  if (!fits || p.key.direct != DirectConvolutions::always) return false;
  p.search_log += "  direct kernel for the " + std::string(pass_name(pass)) + " pass (always)\n";
  choice.emplace();
  choice->direct = true;
  return true;
}

// What a pass writes (`count` values at `data`, in whole units of `unit` values: an image, or
// all the weights), and where the direct kernel's trial keeps a copy of cuDNN's result to check
// its own against: `room` values at `reference`, in the workspace (or what of it the direct
// kernel leaves free). Where the output is larger, the whole units that fit are checked (a
// kernel's index error shows in every image).
template <class V>
struct CheckedOutput {
  V* data;
  std::size_t count;
  std::size_t unit;
  V* reference;
  std::size_t room;
  std::size_t checked() const { return std::min(count, room / unit * unit); }
};

// How close a direct pass must come to cuDNN's result, relative to its largest value: fp32's
// layer tolerance widened tenfold (cuDNN's FFT and Winograd algorithms round differently), TF32's
// and bf16's layer tolerances (cuDNN rounds the inputs, or reads bf16 weights; the direct kernels
// read float weights and sum in float).
inline double direct_tolerance(const ConvKey& k) {
  return k.bfloat16 ? 3e-2 : k.precision == Precision::tf32 ? 1e-2 : 1e-3;
}

// With DirectConvolutions::timed and the timed search, after cuDNN's search (and the graph
// engines'): the direct kernel is timed against the pass as cuDNN runs it (run_cudnn: with the
// padded copy, weight copy and bias pass that way needs; for a Conv + ReLU pair, cuDNN's fused
// call where choose_relu_fusion found it faster), each over kRuns runs after an untimed one, and
// kept when faster and its result agrees with cuDNN's (direct_tolerance;
// a disagreement is a strata bug, logged and the kernel passed over). Untimed, cuDNN's choice
// stays. A kernel that fails to launch is logged and passed over. `slot`: device memory for the
// check's result (the bias-gradient partials, free at this point of each pass).
template <class Algorithm, class V, class RunCudnn, class RunDirect>
void consider_direct_kernel(Context& ctx, ConvPlan& p, ConvPass pass, ChosenAlgorithm<Algorithm>& chosen,
                            const CheckedOutput<V>& out, double* slot, RunCudnn&& run_cudnn,
                            RunDirect&& run_direct) {
  if (p.key.direct != DirectConvolutions::timed || ctx.algorithm_search() != AlgorithmSearch::benchmark) return;
  // Its callers ran choose_* first, which checks the same; a guard should that order change.
  ctx.require_eager("timing a direct convolution kernel (its first step at this shape runs eagerly)");
  constexpr int kRuns = 3;
  const std::string what = "  direct kernel for the " + std::string(pass_name(pass)) + " pass: ";
  const std::size_t checked = out.checked();
  if (checked == 0) {
    p.search_log += what + "no workspace left to check it against cuDNN; cuDNN's choice kept\n";
    return;
  }
  const float cudnn_ms = time_on_stream(ctx, kRuns, run_cudnn) / kRuns;
  STRATA_CUDA_CHECK(cudaMemcpyAsync(out.reference, out.data, checked * sizeof(V), cudaMemcpyDeviceToDevice,
                                    ctx.stream()));
  float direct_ms = 0.0f;
  direct_conv::Agreement agreement{};
  try {
    direct_ms = time_on_stream(ctx, kRuns, run_direct) / kRuns;
    agreement = direct_agreement(static_cast<const V*>(out.data), static_cast<const V*>(out.reference), checked,
                                 reinterpret_cast<unsigned long long*>(slot), ctx.stream());
  } catch (const DeviceError& e) {
    p.search_log += what + "failed: " + e.what() + "; cuDNN's choice kept\n";
    ++p.direct_trials_failed;
    recover_from_failed_candidate(ctx);
    return;
  }
  const std::string compared = "largest difference from cuDNN's " + std::to_string(agreement.difference) +
                               " of its largest value " + std::to_string(agreement.scale) +
                               (agreement.non_finite != 0.0 ? ", values not finite" : "") + " (" +
                               std::to_string(checked) + " of " + std::to_string(out.count) + " values)";
  if (!agreement.within(direct_tolerance(p.key))) {
    p.search_log += what + "disagrees with cuDNN, " + compared + ": cuDNN's choice kept (" +
                    (agreement.non_finite != 0.0 ? "the first batch's values, or " : "") +
                    "a strata bug: report it)\n";
    return;
  }
  chosen.direct = direct_ms < cudnn_ms;
  p.search_log += what + std::to_string(direct_ms) + " ms, cuDNN's choice " + std::to_string(cudnn_ms) + " ms, " +
                  compared + ": " + (chosen.direct ? "direct kernel\n" : "cuDNN\n");
}

// A pass's algorithm, chosen on its first call: the direct kernel (DirectConvolutions::always),
// or cuDNN's legacy search, then the graph engines, then the direct kernel timed against them.
template <class T>
void prepare_forward(Context& ctx, ConvPlan& p, const ConvBuffers<T>& b, const T* x, T* y, const float* weight,
                     const float* bias, bool relu) {
  if (p.forward) return;
  const bool direct = direct_fits(p, ConvPass::forward, b.workspace_bytes);
  if (direct_without_search(p, ConvPass::forward, direct, p.forward)) return;
  const T* input = conv_input(p, x, b, ctx.stream());
  const T* w = conv_weights(p, weight, b, ctx.stream());
  p.forward = choose_forward(ctx, p, input, w, y, b.workspace, b.workspace_bytes);
  consider_graph_engines(ctx, p, ConvPass::forward, *p.forward, {input, w, y}, b.workspace, b.workspace_bytes,
                         [&] { run_forward(ctx, p, b, input, w, y); });
  if (!direct) return;
  // A Conv + ReLU pair in fp32 or TF32: whether cuDNN's fused call runs it faster first, so that
  // the direct kernel is timed against the faster of the two.
  if constexpr (!is_bfloat16<T>)
    if (relu && p.relu_fusion == ReluFusion::untried) choose_relu_fusion(ctx, p, b, input, w, bias, y);
  const ImageLayout layout = ImageLayout::of(p.key.out, p.key.channels_last);
  const CheckedOutput<T> out{y, static_cast<std::size_t>(p.key.batch) * p.key.out.size(), p.key.out.size(),
                             static_cast<T*>(b.workspace), b.workspace_bytes / sizeof(T)};
  consider_direct_kernel(
      ctx, p, ConvPass::forward, *p.forward, out, b.bias_partials,
      [&] {
        const T* in = conv_input(p, x, b, ctx.stream());
        const T* ww = conv_weights(p, weight, b, ctx.stream());
        if constexpr (!is_bfloat16<T>) {
          if (relu && p.relu_fusion == ReluFusion::fused) {
            check(fused_forward_relu(ctx, p, b, in, ww, bias, y), "cudnnConvolutionBiasActivationForward");
            return;
          }
        }
        run_forward(ctx, p, b, in, ww, y);
        if (relu) bias_relu(y, bias, p.key.batch, layout, ctx.stream());
        else bias_add(y, bias, p.key.batch, layout, ctx.stream());
      },
      [&] { direct_forward(ctx, p, x, y, weight, bias, relu); });
}
template <class T>
void prepare_backward_filter(Context& ctx, ConvPlan& p, const ConvBuffers<T>& b, const T* x, const T* dy,
                             float* dweight) {
  if (p.backward_filter) return;
  const bool direct = direct_fits(p, ConvPass::backward_filter, b.workspace_bytes);
  if (direct_without_search(p, ConvPass::backward_filter, direct, p.backward_filter)) return;
  const T* input = conv_input(p, x, b, ctx.stream());
  void* weight_gradient = weight_gradient_target(p, dweight, b);
  p.backward_filter = choose_backward_filter(ctx, p, input, dy, weight_gradient, b.workspace, b.workspace_bytes);
  consider_graph_engines(ctx, p, ConvPass::backward_filter, *p.backward_filter, {input, weight_gradient, dy},
                         b.workspace, b.workspace_bytes,
                         [&] { run_backward_filter(ctx, p, b, input, dy, weight_gradient); });
  if (!direct) return;
  // cuDNN's weight gradient is kept after the direct kernel's partial sums.
  const std::size_t partials = round_up_64(
      direct_conv::filter_partials(p.key.in, p.key.out, p.key.batch, p.key.channels_last));
  const std::size_t workspace_floats = b.workspace_bytes / sizeof(float);
  const std::size_t weights = conv_weight_count(p.key.in, p.key.out, p.key.geometry);
  const CheckedOutput<float> out{dweight, weights, weights, static_cast<float*>(b.workspace) + partials,
                                 workspace_floats > partials ? workspace_floats - partials : 0};
  consider_direct_kernel(
      ctx, p, ConvPass::backward_filter, *p.backward_filter, out, b.bias_partials,
      [&] {
        run_backward_filter(ctx, p, b, conv_input(p, x, b, ctx.stream()), dy, weight_gradient);
        finish_weight_gradient(p, dweight, b, ctx.stream());
      },
      [&] { direct_backward_filter(ctx, p, b, x, dy, dweight); });
}
template <class T>
void prepare_backward_data(Context& ctx, ConvPlan& p, const ConvBuffers<T>& b, const T* dy, T* dx,
                           const float* weight) {
  if (p.backward_data) return;
  const bool direct = direct_fits(p, ConvPass::backward_data, b.workspace_bytes);
  if (direct_without_search(p, ConvPass::backward_data, direct, p.backward_data)) return;
  const T* w = conv_weights(p, weight, b, ctx.stream());
  T* target = p.padded ? b.padded_gradient : dx;
  p.backward_data = choose_backward_data(ctx, p, w, dy, target, b.workspace, b.workspace_bytes);
  consider_graph_engines(ctx, p, ConvPass::backward_data, *p.backward_data, {target, w, dy}, b.workspace,
                         b.workspace_bytes, [&] { run_backward_data(ctx, p, b, w, dy, target); });
  if (!direct) return;
  const ConvGeometry& g = p.key.geometry;
  const CheckedOutput<T> out{dx, static_cast<std::size_t>(p.key.batch) * p.key.in.size(), p.key.in.size(),
                             static_cast<T*>(b.workspace), b.workspace_bytes / sizeof(T)};
  consider_direct_kernel(
      ctx, p, ConvPass::backward_data, *p.backward_data, out, b.bias_partials,
      [&] {
        run_backward_data(ctx, p, b, conv_weights(p, weight, b, ctx.stream()), dy, target);
        if (p.padded)
          unpad_gradient(b.padded_gradient, dx, p.key.batch, p.key.in, p.conv_input, g.pad_top, g.pad_left,
                         p.key.channels_last, ctx.stream());
      },
      [&] { direct_backward_data(ctx, p, dy, dx, weight); });
}

// The plan of this call's convolution (a bfloat16 model's convolutions have their own).
template <class T>
ConvPlan& plan_of(Context& ctx, Dims in, Dims out, const ConvGeometry& g, int batch) {
  static_assert(std::is_same_v<T, float> || is_bfloat16<T>, "strata::Cuda runs float or bfloat16 activations");
  return ctx.conv_plan(in, out, g, batch, is_bfloat16<T>);
}

}  // namespace detail

template <class T, class P>
void conv2d_forward(BasicTensor<const T> x, BasicTensor<T> y, const P* weight, const P* bias, const ConvGeometry& g,
                    P* scratch, const StepInfo& step) {
  Context& ctx = context_of(step);
  ConvPlan& p = detail::plan_of<T>(ctx, x.dims, y.dims, g, x.batch);
  const auto b = detail::conv_buffers<T>(scratch, x.dims, y.dims, g, x.batch);
  detail::prepare_forward(ctx, p, b, x.data, y.data, weight, bias, false);
  if (p.forward->direct) return detail::direct_forward(ctx, p, x.data, y.data, weight, bias, false);
  const T* input = detail::conv_input(p, x.data, b, ctx.stream());
  const T* w = detail::conv_weights(p, weight, b, ctx.stream());
  detail::run_forward(ctx, p, b, input, w, y.data);
  const float one = 1.0f;
  if (is_bfloat16<T> || p.key.channels_last)
    bias_add(y.data, bias, x.batch, ctx.layout(y.dims), ctx.stream());
  else
    STRATA_CUDA_CHECK(cudnnAddTensor(ctx.cudnn(), &one, p.bias.get(), bias, &one, p.y.get(), y.data));
}

// y = relu(conv(x, W) + b): the convolution with its bias and the following ReLU, either in one
// cuDNN call or as the convolution then one pass of strata's (see the header comment).
template <class T, class P>
void conv2d_forward_relu(BasicTensor<const T> x, BasicTensor<T> y, const P* weight, const P* bias,
                         const ConvGeometry& g, P* scratch, const StepInfo& step) {
  Context& ctx = context_of(step);
  ConvPlan& p = detail::plan_of<T>(ctx, x.dims, y.dims, g, x.batch);
  const auto b = detail::conv_buffers<T>(scratch, x.dims, y.dims, g, x.batch);
  detail::prepare_forward(ctx, p, b, x.data, y.data, weight, bias, true);
  if (p.forward->direct) return detail::direct_forward(ctx, p, x.data, y.data, weight, bias, true);
  const T* input = detail::conv_input(p, x.data, b, ctx.stream());
  const T* w = detail::conv_weights(p, weight, b, ctx.stream());
  if constexpr (is_bfloat16<T>) {
    p.relu_fusion = ReluFusion::unfused;  // cuDNN's fused call wants its bias in bf16: strata's pass keeps it float
  } else {
    if (p.relu_fusion == ReluFusion::untried && detail::choose_relu_fusion(ctx, p, b, input, w, bias, y.data)) return;
    if (p.relu_fusion == ReluFusion::fused) {
      check(detail::fused_forward_relu(ctx, p, b, input, w, bias, y.data), "cudnnConvolutionBiasActivationForward");
      return;
    }
  }
  detail::unfused_forward_relu(ctx, p, b, input, w, bias, y.data);
}

namespace detail {

// The weight and input gradients from the output gradient dy (bias done by the caller).
template <class T, class P>
void conv2d_backward_weights_and_input(Context& ctx, ConvPlan& p, const ConvBuffers<T>& b, BasicTensor<const T> x,
                                       const T* dy, BasicTensor<T> dx, const P* weight, P* dweight,
                                       const ConvGeometry& g) {
  prepare_backward_filter(ctx, p, b, x.data, dy, dweight);
  if (p.backward_filter->direct) {
    direct_backward_filter(ctx, p, b, x.data, dy, dweight);
  } else {
    const T* input = conv_input(p, x.data, b, ctx.stream());
    void* weight_gradient = weight_gradient_target(p, dweight, b);
    run_backward_filter(ctx, p, b, input, dy, weight_gradient);
    finish_weight_gradient(p, dweight, b, ctx.stream());
  }

  if (dx.data == nullptr) return;
  prepare_backward_data(ctx, p, b, dy, dx.data, weight);
  if (p.backward_data->direct) return direct_backward_data(ctx, p, dy, dx.data, weight);
  const T* w = conv_weights(p, weight, b, ctx.stream());
  T* target = p.padded ? b.padded_gradient : dx.data;
  run_backward_data(ctx, p, b, w, dy, target);
  if (p.padded)
    unpad_gradient(b.padded_gradient, dx.data, x.batch, x.dims, p.conv_input, g.pad_top, g.pad_left,
                   p.key.channels_last, ctx.stream());
}

}  // namespace detail

// Writes dweight and dbias (not accumulated); writes dx unless dx.data is null.
template <class T, class P>
void conv2d_backward(BasicTensor<const T> x, BasicTensor<const T> dy, BasicTensor<T> dx, const P* weight, P* dweight,
                     P* dbias, const ConvGeometry& g, P* scratch, const StepInfo& step) {
  Context& ctx = context_of(step);
  ConvPlan& p = detail::plan_of<T>(ctx, x.dims, dy.dims, g, x.batch);
  const auto b = detail::conv_buffers<T>(scratch, x.dims, dy.dims, g, x.batch);
  bias_gradient<T, P>(dy.data, nullptr, nullptr, dy.batch, ctx.layout(dy.dims), b.bias_partials, dbias, ctx.stream());
  detail::conv2d_backward_weights_and_input(ctx, p, b, x, dy.data, dx, weight, dweight, g);
}

// The backward pass of conv2d_forward_relu's pair: relu_output is the pair's output, dy the
// gradient with respect to it. The gradient through the ReLU goes to scratch on the way.
template <class T, class P>
void conv2d_backward_relu(BasicTensor<const T> x, BasicTensor<const T> relu_output, BasicTensor<const T> dy,
                          BasicTensor<T> dx, const P* weight, P* dweight, P* dbias, const ConvGeometry& g, P* scratch,
                          const StepInfo& step) {
  Context& ctx = context_of(step);
  ConvPlan& p = detail::plan_of<T>(ctx, x.dims, dy.dims, g, x.batch);
  const auto b = detail::conv_buffers<T>(scratch, x.dims, dy.dims, g, x.batch);
  bias_gradient<T, P>(dy.data, relu_output.data, b.masked_gradient, dy.batch, ctx.layout(dy.dims), b.bias_partials,
                      dbias, ctx.stream());
  detail::conv2d_backward_weights_and_input(ctx, p, b, x, b.masked_gradient, dx, weight, dweight, g);
}

}  // namespace strata::cuda
