// strata/backend/cuda/step_graph.cuh: a whole training step recorded as a CUDA graph, then replayed.
//
// Why: a training step of a small network is hundreds of short kernels and cuDNN calls; launched
// one by one from the host, with the host waiting three times a step (the weight check, the
// loss, the gradient check), the GPU idles between them. Shapes are static (the Model's buffers never move), so
// Model::train_step records the step once per batch size, loss, optimizer and precision and
// replays it with one launch and one wait (core/step_graph.hpp has the rules).
//
// What the recording may not do, and what it does instead:
//   - wait for the device or read results: the loss and the non-finite counts of the weights
//     (before the step) and of the gradients go to a StepGraphResult in device memory; a
//     one-thread kernel turns them into the step's verdict (step_verdict, the host's rule);
//     the optimizer's kernel skips itself unless the verdict accepts the step (optimizer.cuh).
//     The graph's last node copies the result to pinned memory, read after the replay.
//   - bake per-step host values into kernel arguments: the graph's first node copies the staged
//     StepGraphValues (dropout's seed and step, the optimizer's step) from pinned host memory;
//     the dropout and optimizer kernels recorded (GraphPhase::recording) read that device copy.
//     Only optimizers that declare step_graphs (Adam, Sgd) are recorded at all.
//   - choose convolution algorithms (cudnnFind* runs and waits): a key's first step runs
//     eagerly, which chooses them and loads every kernel; only the next one is recorded.
//   - copy batches: the Model uploads the batch into its fixed input and target buffers on the
//     same stream before each replay.
// A recording that fails (an unsupported call, an error) is abandoned: graphs are turned off for
// the model with the reason (Context::step_graph_fallback) and the step runs eagerly. A model
// with BatchNorm copies its running statistics aside on the device before each step (no wait),
// so that a rejected step can put them back, as the eager path does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

#include <cuda_runtime.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/context.hpp"
#include "strata/backend/cuda/finite.cuh"
#include "strata/backend/cuda/graph.hpp"
#include "strata/backend/cuda/launch.cuh"
#include "strata/backend/cuda/loss.cuh"
#include "strata/core/step_graph.hpp"

namespace strata::cuda {

// The step's verdict from its loss and counts. (A template only so that this header-only kernel
// may be defined in every translation unit.)
template <class Result>
__global__ void step_verdict_kernel(Result* result) {
  result->verdict = static_cast<int>(step_verdict(result->loss, result->bad_weights, result->bad_gradients));
}

inline void require_recording(const Context& ctx, const char* what) {
  if (ctx.graph_phase() != GraphPhase::recording)
    throw std::logic_error(std::string(what) + ": only while Model::train_step records a CUDA graph");
}

// Records counting the non-finite values of data into the step's result (no wait).
template <class T>
void record_non_finite(const T* data, std::size_t n, StepCheck which, const StepInfo& step) {
  Context& ctx = context_of(step);
  require_recording(ctx, "record_non_finite");
  StepGraphResult* result = ctx.device_result();
  double* target = which == StepCheck::weights ? &result->bad_weights : &result->bad_gradients;
  if (n == 0) {
    STRATA_CUDA_CHECK(cudaMemsetAsync(target, 0, sizeof(double), ctx.stream()));
    return;
  }
  const int blocks = static_cast<int>(std::min<std::size_t>((n + kThreads - 1) / kThreads, kLossBlocks));
  non_finite_kernel<T><<<blocks, kThreads, 0, ctx.stream()>>>(data, n, ctx.loss_partials());
  check(cudaGetLastError(), "non_finite_kernel (recorded)");
  loss_total_kernel<double><<<1, kThreads, 0, ctx.stream()>>>(ctx.loss_partials(), blocks, 1.0, target);
  check(cudaGetLastError(), "loss_total_kernel (recorded non-finite count)");
}

// Records the verdict of the step from the loss and the two counts recorded before it.
inline void record_verdict(const StepInfo& step) {
  Context& ctx = context_of(step);
  require_recording(ctx, "record_verdict");
  step_verdict_kernel<StepGraphResult><<<1, 1, 0, ctx.stream()>>>(ctx.device_result());
  check(cudaGetLastError(), "step_verdict_kernel");
}

inline std::string error_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")";
}

// Records what record() queues on the model's stream into entry's graph, between a copy of the
// staged values in and a copy of the result out. Returns false, with graphs turned off and the
// reason kept in the context, when the recording fails; nothing it queued has run either way.
template <class Record>
bool capture_step(Context& ctx, typename StepGraphs<GraphExec>::Entry& entry, Record&& record) {
  StepGraphs<GraphExec>& graphs = ctx.step_graph_cache();
  const cudaStream_t stream = ctx.stream();
  // Load the kernels only a recorded step runs, so lazy module loading does not happen mid-capture
  // (the eager first step has loaded the others).
  cudaFuncAttributes attributes{};
  STRATA_CUDA_CHECK(cudaFuncGetAttributes(&attributes, &step_verdict_kernel<StepGraphResult>));
  STRATA_CUDA_CHECK(cudaFuncGetAttributes(&attributes, &non_finite_kernel<float>));

  std::string failure;
  const cudaError_t began = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (began != cudaSuccess) {
    (void)cudaGetLastError();
    graphs.disable("cudaStreamBeginCapture failed: " + error_text(began));
    return false;
  }
  ctx.set_graph_phase(GraphPhase::recording);
  try {
    STRATA_CUDA_CHECK(cudaMemcpyAsync(ctx.device_values(), &ctx.staged_values(), sizeof(StepGraphValues),
                                      cudaMemcpyHostToDevice, stream));
    record();
    STRATA_CUDA_CHECK(cudaMemcpyAsync(ctx.host_result(), ctx.device_result(), sizeof(StepGraphResult),
                                      cudaMemcpyDeviceToHost, stream));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  ctx.set_graph_phase(GraphPhase::none);
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  if (failure.empty() && ended != cudaSuccess) failure = "cudaStreamEndCapture failed: " + error_text(ended);
  cudaGraphExec_t exec = nullptr;
  if (failure.empty()) {
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    if (made != cudaSuccess) failure = "cudaGraphInstantiate failed: " + error_text(made);
  }
  if (graph != nullptr) (void)cudaGraphDestroy(graph);
  if (!failure.empty()) {
    (void)cudaGetLastError();  // errors of an abandoned capture are not sticky: clear them for the eager step
    graphs.disable("recording the training step as a CUDA graph failed: " + failure);
    return false;
  }
  entry.graph = GraphExec(exec);
  entry.captured = true;
  graphs.count_capture();
  return true;
}

// Replays entry's graph for the step (seed, step): stages those values, lets stage() run the
// host side of the optimizer (its step count; its values staged, not launched), launches the
// graph, waits for it and returns its result.
template <class Stage>
StepGraphResult replay_step(Context& ctx, typename StepGraphs<GraphExec>::Entry& entry, std::uint64_t seed,
                            std::uint64_t step, Stage&& stage) {
  // The previous replay has finished (each one is waited for), so its copy of these is done.
  StepGraphValues& values = ctx.staged_values();
  values.seed = seed;
  values.step = step;
  ctx.set_graph_phase(GraphPhase::staging);
  try {
    stage();
  } catch (...) {
    ctx.set_graph_phase(GraphPhase::none);
    throw;
  }
  ctx.set_graph_phase(GraphPhase::none);
  STRATA_CUDA_CHECK(cudaGraphLaunch(entry.graph.get(), ctx.stream()));
  ctx.synchronize();
  ctx.step_graph_cache().count_replay();
  return *ctx.host_result();
}

}  // namespace strata::cuda
