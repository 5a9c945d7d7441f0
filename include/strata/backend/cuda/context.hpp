// strata/backend/cuda/context.hpp: a Model's state on the GPU beyond its tensors.
//
// Each Model<Net, Cuda> owns one Context (core/device.hpp): a CUDA stream every kernel and cuDNN
// call of the model runs on, a cuDNN handle bound to it, the cache of convolution plans and
// algorithms (conv_plan.hpp), cached tensor descriptors, pinned host staging for batches, and
// the small device buffers of the loss, and the training steps recorded as CUDA graphs
// (core/step_graph.hpp, step_graph.cuh). Batches cross from pageable host memory through the
// pinned staging, from page-locked memory (cudaMallocHost, cudaHostRegister, PyTorch's
// pin_memory) straight, with no host copy. With channels-last activations (set_channels_last)
// batches cross as floats into a device staging buffer and are transposed there (layout.cuh).
// upload_ahead sends the next batch from page-locked memory on a second (copy) stream while the
// model's stream computes the current step; its upload then reads that device copy.
// The stream and handle are created with the context; the
// rest is allocated in reserve(), which the Model calls before allocating its own buffers, so
// nothing is allocated on the device inside a training step. (The plan cache grows on the host
// the first time a layer runs at a given batch size; a graph is instantiated the second time a
// training step of a given shape runs.)
//
// The model lives on the device that is current when it is constructed. A context is moved with
// its model (it owns its state through one pointer); it is not shared between models or threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <cuda_runtime.h>
#include <cudnn.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/backend/cuda/conv_plan.hpp"
#include "strata/backend/cuda/convert.cuh"
#include "strata/backend/cuda/descriptors.hpp"
#include "strata/backend/cuda/graph.hpp"
#include "strata/backend/cuda/layout.cuh"
#include "strata/backend/cuda/memory.hpp"
#include "strata/backend/cuda/precision.hpp"
#include "strata/core/device.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/output_sums.hpp"
#include "strata/core/step_graph.hpp"
#include "strata/core/tensor.hpp"
#include "strata/losses/loss.hpp"

namespace strata::cuda {

// Blocks of the loss's first reduction pass; their partial sums are added in a fixed order.
inline constexpr int kLossBlocks = 1024;

// What the backend's calls do while Model::train_step records or replays a graph (step_graph.cuh).
enum class GraphPhase : unsigned char {
  none,       // run eagerly
  recording,  // the stream is being captured: per-step values come from device memory, nothing waits
  staging,    // before a replay: optimizers only store their step's values for the graph to read
};

class Context : public DeviceContext {
 public:
  Context() : state_(std::make_unique<State>()) {}

  // ---- settings ----
  void set_precision(Precision p) { state_->precision = p; }
  Precision precision() const { return state_->precision; }
  void set_algorithm_search(AlgorithmSearch s) { state_->search = s; }
  AlgorithmSearch algorithm_search() const { return state_->search; }
  // Only convolution algorithms cuDNN reports as deterministic (bit-identical results run to
  // run); off by default, since the fastest backward algorithms may add with atomics.
  void set_deterministic(bool on) { state_->deterministic = on; }
  bool deterministic() const { return state_->deterministic; }
  // Activations channels last (NHWC, core/layout.hpp) instead of first (NCHW): the layout
  // cuDNN's tensor-core convolutions work in, so that it does not transpose around each of them
  // (bf16 and TF32 spent 15-20% of a ConvNet v1 step on an H200 in those transposes). Host data,
  // parameters and checkpoints stay NCHW: batches are transposed on the device as they cross,
  // the weights as each convolution reads them. The device tensors a Model hands out (input(),
  // output(), output_gradient(), input_gradient()) are then NHWC: copy them with
  // Cuda::copy_batch_to_device / copy_batch_to_host, which transpose. Off by default. Set it
  // before the model's first batch crosses: the tensors already on the device would be read in
  // the other layout (it refuses after a batch copy, but cannot see raw copies into input()).
  void set_channels_last(bool on) {
    if (on == state_->channels_last) return;
    if (state_->batches_copied)
      throw std::logic_error("Context::set_channels_last: the model already holds a batch in the other layout; set "
                             "the layout right after constructing the model");
    state_->channels_last = on;
  }
  bool channels_last() const { return state_->channels_last; }
  // Each convolution pass's search also considers engines of cuDNN's graph API
  // (conv_engines.hpp): timed against the legacy algorithm, the fastest kept; with the heuristic
  // search, the first usable engine that runs. Off by default, for a shorter first step; v1 on an
  // H200 trained 0.99x-1.17x as fast with it (bench/RESULTS.md), and the trainer turns it on. Part
  // of each plan's key: switching it makes every shape search again on its next step, which runs
  // eagerly.
  void set_graph_engines(bool on) { state_->graph_engines = on; }
  bool graph_engines() const { return state_->graph_engines; }
  // Convolution passes of layers with at most 4 channels on one side (an autoencoder's RGB input
  // and output layers; stride 1, kernels up to 3) may run on strata's direct kernels
  // (direct_conv.cuh), where cuDNN's GEMM-shaped kernels take several times their memory traffic.
  // timed: with the timed algorithm search, each such pass's first call times the direct kernel
  // against cuDNN's choice, checks its result against cuDNN's, and keeps the faster; always:
  // whenever the shape fits; off: cuDNN only. Off by default (cuDNN alone, no trials); timed, v1
  // on an H200 trained 0.96x-1.09x as fast (bench/RESULTS.md), and the trainer uses timed. Part
  // of each plan's key, as set_graph_engines is.
  void set_direct_convolutions(DirectConvolutions mode) { state_->direct = mode; }
  DirectConvolutions direct_convolutions() const { return state_->direct; }

  // ---- the training step as a CUDA graph (Model::train_step; core/step_graph.hpp) ----
  // Off by default. On: a training step's device work is recorded once per batch size, loss,
  // optimizer and precision, then replayed; a failed recording turns it off again and
  // step_graph_fallback() says why.
  void set_step_graphs(bool on) { state_->graphs.set_enabled(on); }
  bool step_graphs() const { return state_->graphs.enabled(); }
  const std::string& step_graph_fallback() const { return state_->graphs.fallback_reason(); }
  StepGraphs<GraphExec>& step_graph_cache() { return state_->graphs; }
  const StepGraphs<GraphExec>& step_graph_cache() const { return state_->graphs; }

  GraphPhase graph_phase() const { return state_->phase; }
  void set_graph_phase(GraphPhase p) { state_->phase = p; }
  // Pinned host memory the graph's first node copies to device_values() at every replay.
  StepGraphValues& staged_values() { return *state_->values_host.data(); }
  StepGraphValues* device_values() const { return state_->values_device.data(); }
  // Written by the recorded step on the device, copied to host_result() by its last node.
  StepGraphResult* device_result() const { return state_->result_device.data(); }
  StepGraphResult* host_result() const { return state_->result_host.data(); }

  // The key of a training step; uploads the loss's pixel weights first if they changed (a
  // recorded step has their sum built in, so new weights make a new key).
  StepGraphKey step_graph_key(int batch, LossFunction loss, std::span<const float> pixel_weights_host,
                              const void* optimizer) {
    pixel_weights(pixel_weights_host.data(), pixel_weights_host.size());
    const int variant =
        (((static_cast<int>(state_->precision) * 2 + (state_->deterministic ? 1 : 0)) * 2 +
          (state_->channels_last ? 1 : 0)) * 2 + (state_->graph_engines ? 1 : 0)) * 3 +
        static_cast<int>(state_->direct);
    return StepGraphKey{batch, static_cast<int>(loss), optimizer, variant,
                        pixel_weights_host.empty() ? 0 : state_->weights_version};
  }

  cudaStream_t stream() const { return state_->stream; }
  cudnnHandle_t cudnn() const { return state_->cudnn; }
  int device() const { return state_->device; }
  // Waits for everything the model has queued.
  void synchronize() const {
    require_eager("Context::synchronize");
    STRATA_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
  }

  // Throws when called while a graph is recorded: what waits for the device cannot be recorded.
  void require_eager(const char* what) const {
    if (state_->phase == GraphPhase::recording)
      throw std::logic_error(std::string(what) +
                             " waits for the device, which a recorded training step cannot do (a strata bug)");
  }

  // Called by Model before it allocates: refuses a model that cannot fit (saying which max_batch
  // would), then allocates the staging and loss buffers.
  void reserve(const ModelMemory& m) {
    State& s = *state_;
    const std::size_t staging_floats = static_cast<std::size_t>(m.max_batch) *
                                       std::max(m.input.size(), m.output.size());
    const std::size_t free = free_device_memory();
    // The context also holds three batches in float on the device (one where a bfloat16 model's
    // page-locked batches are rounded and channels-last batches transposed, two for batches sent
    // ahead): they grow with max_batch like the model's own buffers.
    constexpr std::size_t kDeviceBatches = 1 + 2;
    ModelMemory needed = m;
    needed.bytes += kDeviceBatches * staging_floats * sizeof(float);
    needed.bytes_per_sample += kDeviceBatches * std::max(m.input.size(), m.output.size()) * sizeof(float);
    // Leave room for cuDNN's and the CUDA runtime's own allocations, and this context's.
    const std::size_t margin = std::size_t{256} << 20;
    if (needed.bytes + margin > free) {
      const int fits = largest_batch_that_fits(
          ModelMemory{m.max_batch, m.input, m.output, needed.bytes + margin, needed.bytes_per_sample}, free);
      throw DeviceOutOfMemory(
          "Model<Net, Cuda>(max_batch = " + std::to_string(m.max_batch) + ")", needed.bytes + margin, free,
          "The model needs " + DeviceOutOfMemory::bytes_text(needed.bytes) + " for max_batch " +
              std::to_string(m.max_batch) + " (about " + DeviceOutOfMemory::bytes_text(needed.bytes_per_sample) +
              " per sample) plus 256 MiB for cuDNN; " +
              (fits > 0 ? "max_batch " + std::to_string(fits) + " would fit"
                        : "not even max_batch 1 fits: free GPU memory held by other processes (nvidia-smi)"));
    }
    s.float_staging = Buffer<float>(staging_floats);
    for (Ahead& slot : s.ahead) {
      slot.buffer = Buffer<float>(staging_floats);
      slot.host = nullptr;
      if (slot.copied == nullptr) STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&slot.copied, cudaEventDisableTiming));
      if (slot.consumed == nullptr) STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&slot.consumed, cudaEventDisableTiming));
    }
    for (Staging& slot : s.staging) {
      slot.buffer = PinnedBuffer<float>(staging_floats);
      if (slot.done == nullptr) STRATA_CUDA_CHECK(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming));
    }
    s.pixel_weights = Buffer<float>(m.output.plane());
    s.uploaded_weights.assign(m.output.plane(), 0.0f);
    s.weights_uploaded = false;
    s.output_sums_device = Buffer<OutputSums>(static_cast<std::size_t>(m.max_batch));
    s.output_sums_host = PinnedBuffer<OutputSums>(static_cast<std::size_t>(m.max_batch));
    s.loss_partials = Buffer<double>(kLossBlocks);
    s.loss_total = Buffer<double>(1);
    s.loss_host = PinnedBuffer<double>(1);
    s.values_device = Buffer<StepGraphValues>(1);
    s.values_host = PinnedBuffer<StepGraphValues>(1);
    *s.values_host.data() = StepGraphValues{};
    s.result_device = Buffer<StepGraphResult>(1);
    s.result_host = PinnedBuffer<StepGraphResult>(1);
    *s.result_host.data() = StepGraphResult{};
  }

  // ---- host <-> device copies of batches, ordered on the model's stream ----
  // Batch copies that skipped the staging (page-locked host memory) so far: tests and profiles
  // see which way the batches went.
  std::uint64_t direct_copies() const { return state_->direct_copies; }

  // Starts sending n floats of page-locked host memory (the next batch) to the device on the
  // context's copy stream, so that the transfer runs while the model's stream computes; a batch
  // upload of exactly that memory (same pointer and size: upload_batch) within the next three
  // takes the device copy instead of crossing (a step with a target of its own uploads two).
  // Made for one batch ahead: the batch of the current step may still be waiting in the other of
  // two slots, a third send replaces it. False, with nothing done, for pageable memory or more
  // than a batch. The caller keeps the memory unchanged until it is uploaded; a copy that three
  // batch uploads in a row did not take is forgotten (its memory may hold another batch by then).
  bool upload_ahead(const float* host, std::size_t n) {
    State& s = *state_;
    require_eager("Context::upload_ahead");
    if (n == 0 || n > s.ahead[0].buffer.size() || !page_locked(host) || !page_locked(host + (n - 1))) return false;
    for (Ahead& slot : s.ahead)
      if (slot.host == host) slot.host = nullptr;  // sent again: the newer copy counts
    Ahead& slot = s.ahead[s.next_ahead];
    s.next_ahead ^= 1;
    slot.host = nullptr;
    // The slot's previous batch may still be being read on the model's stream.
    STRATA_CUDA_CHECK(cudaStreamWaitEvent(s.copy_stream, slot.consumed, 0));
    STRATA_CUDA_CHECK(cudaMemcpyAsync(slot.buffer.data(), host, n * sizeof(float), cudaMemcpyHostToDevice,
                                      s.copy_stream));
    STRATA_CUDA_CHECK(cudaEventRecord(slot.copied, s.copy_stream));
    slot.host = host;
    slot.n = n;
    slot.missed = 0;
    return true;
  }
  // Batch uploads served from a copy sent ahead so far (tests and profiles see that it worked).
  std::uint64_t uploads_from_ahead() const { return state_->uploads_from_ahead; }

  // From pageable memory through pinned staging: the host data is copied into a staging slot and
  // the transfer runs asynchronously; a slot is reused only once its previous transfer has
  // finished. The copy goes in chunks, so the copy engine sends one while the host copies the
  // next: a batch costs about one host memcpy, not a memcpy and then a transfer. Float host data
  // bound for a bfloat16 buffer is rounded on the way into staging (half the bytes cross).
  // From page-locked memory the copy engine reads the caller's data itself (a bfloat16 buffer's
  // batch is rounded on the device, by the same function): no host copy at all. Either way the
  // caller may change its data as soon as upload returns: a page-locked copy is waited for (so a
  // target uploaded after a queued forward pass waits for that pass too).
  template <class T, class H>
  void upload(T* device, const H* host, std::size_t n) {
    static_assert(std::is_same_v<H, float> && (std::is_same_v<T, float> || is_bfloat16<T>),
                  "strata::Cuda uploads float host data into float or bfloat16 buffers");
    require_eager("Context::upload");
    const std::size_t bytes = n * sizeof(T);
    Staging& slot = state_->staging[state_->next_staging];
    state_->next_staging ^= 1;
    if (n > slot.buffer.size()) {  // larger than a batch: a plain (blocking) copy
      if constexpr (!std::is_same_v<T, H>)
        throw std::invalid_argument("Context::upload: " + std::to_string(n) + " values are more than a batch; a "
                                    "bfloat16 buffer is filled a batch at a time");
      else {
        STRATA_CUDA_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, state_->stream));
        synchronize();
        return;
      }
    }
    if (direct_copy_possible<T, H>(host, n)) {
      copy_directly([&] {
        if constexpr (std::is_same_v<T, H>) {
          STRATA_CUDA_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, state_->stream));
        } else {
          float* floats = state_->float_staging.data();
          STRATA_CUDA_CHECK(cudaMemcpyAsync(floats, host, n * sizeof(H), cudaMemcpyHostToDevice, state_->stream));
          convert(static_cast<const float*>(floats), device, n, state_->stream);
        }
      });
      return;
    }
    STRATA_CUDA_CHECK(cudaEventSynchronize(slot.done));
    constexpr std::size_t kChunk = (std::size_t{1} << 20) / sizeof(T);  // values per 1 MiB chunk
    T* staged = reinterpret_cast<T*>(slot.buffer.data());
    for (std::size_t offset = 0; offset < n; offset += kChunk) {
      const std::size_t count = std::min(kChunk, n - offset);
      if constexpr (std::is_same_v<T, H>) std::memcpy(staged + offset, host + offset, count * sizeof(T));
      else
        for (std::size_t i = offset; i < offset + count; ++i) staged[i] = T(host[i]);
      STRATA_CUDA_CHECK(cudaMemcpyAsync(device + offset, staged + offset, count * sizeof(T), cudaMemcpyHostToDevice,
                                        state_->stream));
    }
    STRATA_CUDA_CHECK(cudaEventRecord(slot.done, state_->stream));
  }

  // A batch of images (host data NCHW) into a model's buffer `to`, in the model's layout: as
  // upload() does, and with channels last through the device's float staging, transposed there.
  // A batch sent ahead (upload_ahead) is taken from its device copy.
  template <class T, class H>
  void upload_batch(BasicTensor<T> to, const H* host) {
    require_eager("Context::upload_batch");
    state_->batches_copied = true;
    if (const float* sent = take_ahead(host, to.size())) {
      if (state_->channels_last)
        to_channels_last(sent, to.data, to.batch, to.dims, state_->stream);
      else  // a copy on the SMs: the copy engine may be sending the next batch
        convert(sent, to.data, to.size(), state_->stream);
      release_ahead(sent);
      return;
    }
    if (!state_->channels_last) return upload(to.data, host, to.size());
    float* floats = batch_staging(to.size(), "Context::upload_batch");
    upload(floats, host, to.size());
    to_channels_last(static_cast<const float*>(floats), to.data, to.batch, to.dims, state_->stream);
  }
  // A batch from a model's buffer to NCHW host data, as download() does (transposed first on the
  // device, with channels last).
  template <class H, class T>
  void download_batch(H* host, BasicTensor<const T> from) {
    if (!state_->channels_last) return download(host, from.data, from.size());
    float* floats = batch_staging(from.size(), "Context::download_batch");
    to_channels_first(from.data, floats, from.batch, from.dims, state_->stream);
    download(host, static_cast<const float*>(floats), from.size());
  }

  // A copy between two device buffers of the model, ordered on its stream (no wait).
  template <class T>
  void copy_on_device(T* to, const T* from, std::size_t n) {
    STRATA_CUDA_CHECK(cudaMemcpyAsync(to, from, n * sizeof(T), cudaMemcpyDeviceToDevice, state_->stream));
  }

  // Waits for the model's queued work, then copies n values to the host (a bfloat16 buffer's
  // widened to float, exactly).
  template <class H, class T>
  void download(H* host, const T* device, std::size_t n) {
    static_assert(std::is_same_v<H, float> && (std::is_same_v<T, float> || is_bfloat16<T>),
                  "strata::Cuda downloads float or bfloat16 buffers into float host data");
    require_eager("Context::download");
    const std::size_t bytes = n * sizeof(T);
    Staging& slot = state_->staging[state_->next_staging];
    state_->next_staging ^= 1;
    if (n > slot.buffer.size()) {
      if constexpr (!std::is_same_v<T, H>)
        throw std::invalid_argument("Context::download: " + std::to_string(n) + " values are more than a batch; a "
                                    "bfloat16 buffer is read a batch at a time");
      else {
        STRATA_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, state_->stream));
        synchronize();
        return;
      }
    }
    if (direct_copy_possible<T, H>(host, n)) {  // straight into the caller's memory (bfloat16 widened first)
      copy_directly([&] {
        if constexpr (std::is_same_v<T, H>) {
          STRATA_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, state_->stream));
        } else {
          float* floats = state_->float_staging.data();
          convert(device, floats, n, state_->stream);
          STRATA_CUDA_CHECK(cudaMemcpyAsync(host, floats, n * sizeof(H), cudaMemcpyDeviceToHost, state_->stream));
        }
      });
      return;
    }
    STRATA_CUDA_CHECK(cudaMemcpyAsync(slot.buffer.data(), device, bytes, cudaMemcpyDeviceToHost, state_->stream));
    STRATA_CUDA_CHECK(cudaEventRecord(slot.done, state_->stream));
    STRATA_CUDA_CHECK(cudaEventSynchronize(slot.done));
    if constexpr (std::is_same_v<T, H>) std::memcpy(host, slot.buffer.data(), bytes);
    else {
      const T* staged = reinterpret_cast<const T*>(slot.buffer.data());
      for (std::size_t i = 0; i < n; ++i) host[i] = static_cast<H>(staged[i]);
    }
  }

  // ---- caches ----
  // The plan of a convolution shape at a batch size and the current precision.
  // bfloat16: a model of bfloat16 activations (its convolutions run in bf16 whatever the precision).
  ConvPlan& conv_plan(Dims in, Dims out, const ConvGeometry& g, int batch, bool bfloat16 = false) {
    const ConvKey key{in, out, g, batch, state_->precision, state_->deterministic, bfloat16, state_->channels_last,
                      state_->graph_engines, state_->direct};
    for (auto& p : state_->conv_plans)
      if (p->key == key) return *p;
    state_->conv_plans.push_back(std::make_unique<ConvPlan>(key));
    return *state_->conv_plans.back();
  }

  // Each convolution plan's shape and what its algorithm searches returned (time, workspace,
  // math type, status) and chose: for profiling, and for reports of slow layers.
  std::string describe_convolutions() const {
    std::string text;
    for (const auto& p : state_->conv_plans) {
      const ConvKey& k = p->key;
      text += "conv " + k.in.to_string() + " -> " + k.out.to_string() + ", kernel " +
              std::to_string(k.geometry.kernel) + ", batch " + std::to_string(k.batch) +
              (k.channels_last ? ", channels last" : "") + ", precision " +
              (k.bfloat16 ? std::string("bf16") : std::to_string(static_cast<int>(k.precision))) + ", fused ReLU " +
              (p->forward && p->forward->direct           ? "no (direct kernel)"
               : p->relu_fusion == ReluFusion::fused   ? "yes"
               : p->relu_fusion == ReluFusion::unfused ? "no"
                                                       : "untried") +
              (k.graph_engines ? ", graph engines considered" : "") +
              (k.direct == DirectConvolutions::off      ? ", no direct kernels"
               : k.direct == DirectConvolutions::always ? ", direct kernels always"
                                                        : "") +
              (p->padded ? ", explicitly padded" : "") + "\n" +
              p->search_log;
    }
    return text;
  }

  // The convolution passes whose algorithm has been chosen, and how many of them chose an engine
  // of cuDNN's graph API (set_graph_engines): not counting a forward pass that runs as cuDNN's
  // fused bias + ReLU call, which only the legacy API has (conv.hpp). (A layer whose operands are
  // less aligned than the engine's runs the legacy algorithm all the same: ConvEngine::accepts.)
  struct ConvolutionPasses {
    int chosen = 0;
    int on_graph_engines = 0;
    int on_direct_kernels = 0;  // strata's own (set_direct_convolutions)
    int direct_trials_failed = 0;  // direct kernels that failed while timed against cuDNN
  };
  ConvolutionPasses convolution_passes() const {
    ConvolutionPasses n;
    const auto count = [&n](const auto& choice, bool legacy_call) {
      if (!choice) return;
      ++n.chosen;
      if (choice->direct) ++n.on_direct_kernels;
      else if (choice->engine && !legacy_call) ++n.on_graph_engines;
    };
    for (const auto& p : state_->conv_plans) {
      n.direct_trials_failed += p->direct_trials_failed;
      count(p->forward, p->relu_fusion == ReluFusion::fused);
      count(p->backward_data, false);
      count(p->backward_filter, false);
    }
    return n;
  }

  // A descriptor of a batch of images of scalar `type`, in the model's layout.
  cudnnTensorDescriptor_t tensor(int batch, Dims d, cudnnDataType_t type = CUDNN_DATA_FLOAT) {
    const bool last = state_->channels_last;
    for (auto& t : state_->tensors)
      if (t.batch == batch && t.dims == d && t.type == type && t.channels_last == last) return t.descriptor.get();
    state_->tensors.push_back({batch, d, type, last, tensor_descriptor(batch, d, type, last)});
    return state_->tensors.back().descriptor.get();
  }
  // How the model's activations of dims d are laid out (core/layout.hpp).
  ImageLayout layout(Dims d) const { return ImageLayout::of(d, state_->channels_last); }

  // ---- the loss's device buffers ----
  // Device copy of the loss's pixel weights (empty: none); uploaded only when they change.
  const float* pixel_weights(const float* host, std::size_t n) {
    State& s = *state_;
    if (n == 0) return nullptr;
    if (n != s.uploaded_weights.size())
      throw std::invalid_argument("strata::Cuda loss: " + std::to_string(n) + " pixel weights for an output plane of " +
                                  std::to_string(s.uploaded_weights.size()));
    if (!s.weights_uploaded || std::memcmp(s.uploaded_weights.data(), host, n * sizeof(float)) != 0) {
      std::memcpy(s.uploaded_weights.data(), host, n * sizeof(float));
      upload(s.pixel_weights.data(), s.uploaded_weights.data(), n);
      s.weights_uploaded = true;
      ++s.weights_version;
    }
    return s.pixel_weights.data();
  }
  // Room for one OutputSums per image of a batch (output_sums.cuh).
  OutputSums* output_sums_device(int batch) const {
    if (batch > static_cast<int>(state_->output_sums_device.size()))
      throw std::logic_error("Context::output_sums_device: batch " + std::to_string(batch) + " is above max_batch");
    return state_->output_sums_device.data();
  }
  // Waits for the stream, then copies the first `batch` sums to `out`.
  void download_output_sums(OutputSums* out, int batch) {
    State& s = *state_;
    require_eager("reading output sums");
    const std::size_t bytes = static_cast<std::size_t>(batch) * sizeof(OutputSums);
    STRATA_CUDA_CHECK(cudaMemcpyAsync(s.output_sums_host.data(), s.output_sums_device.data(), bytes,
                                      cudaMemcpyDeviceToHost, s.stream));
    synchronize();
    std::memcpy(out, s.output_sums_host.data(), bytes);
  }
  double* loss_partials() const { return state_->loss_partials.data(); }
  double* loss_total() const { return state_->loss_total.data(); }
  // Waits for the loss and returns it.
  double read_loss() {
    State& s = *state_;
    require_eager("reading the loss");
    STRATA_CUDA_CHECK(
        cudaMemcpyAsync(s.loss_host.data(), s.loss_total.data(), sizeof(double), cudaMemcpyDeviceToHost, s.stream));
    synchronize();
    return s.loss_host.data()[0];
  }

 private:
  struct Staging {
    PinnedBuffer<float> buffer;
    cudaEvent_t done = nullptr;
  };
  // A batch sent ahead: its device copy, when the copy finished, when its readers finished.
  struct Ahead {
    Buffer<float> buffer;
    cudaEvent_t copied = nullptr;
    cudaEvent_t consumed = nullptr;
    const float* host = nullptr;  // null: nothing usable in the buffer
    std::size_t n = 0;
    int missed = 0;  // batch uploads since it was sent that did not take it
  };
  // Whether the copy engine can read or write `host` directly: page-locked memory (cudaMallocHost,
  // cudaHostRegister). Pageable memory is "unregistered"; a failed query answers no, and its
  // error is taken off the last-error slot, so that the next launch check does not report it.
  static bool page_locked(const void* host) {
    cudaPointerAttributes attributes{};
    if (cudaPointerGetAttributes(&attributes, host) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return attributes.type == cudaMemoryTypeHost;
  }
  // n values at `host` can cross without staging: their first and last values are page-locked
  // and, for a bfloat16 buffer, the device's float copy of a batch holds them.
  template <class T, class H>
  bool direct_copy_possible(const H* host, std::size_t n) const {
    if (n == 0 || !page_locked(host) || !page_locked(host + (n - 1))) return false;
    return std::is_same_v<T, H> || n <= state_->float_staging.size();
  }
  // Queues a direct copy (and a bfloat16 conversion) and waits for it: the caller's memory is in
  // use until the transfer ends, also when a launch queued after it throws.
  template <class Queue>
  void copy_directly(Queue&& queue) {
    ++state_->direct_copies;
    try {
      queue();
    } catch (...) {
      (void)cudaStreamSynchronize(state_->stream);
      throw;
    }
    STRATA_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
  }
  // A batch sent ahead (upload_ahead) of exactly these n values at `host`, complete on the device,
  // or null. A copy missed by three batch uploads in a row is forgotten: its memory may hold
  // another batch by now.
  template <class H>
  const float* take_ahead(const H* host, std::size_t n) {
    State& s = *state_;
    Ahead* match = nullptr;
    for (Ahead& slot : s.ahead) {
      if (slot.host == nullptr) continue;
      if (static_cast<const void*>(slot.host) == static_cast<const void*>(host) && slot.n == n) match = &slot;
      else if (++slot.missed >= 3) slot.host = nullptr;
    }
    if (match == nullptr) return nullptr;
    // Long finished in a training loop (sent during the previous step); waited for so that the
    // caller may reuse its memory once upload returns, as with every upload.
    STRATA_CUDA_CHECK(cudaEventSynchronize(match->copied));
    match->host = nullptr;
    ++s.uploads_from_ahead;
    return match->buffer.data();
  }
  // After the reads of a batch sent ahead are queued on the model's stream: its slot may take the
  // next batch once they are done.
  void release_ahead(const float* sent) {
    for (Ahead& slot : state_->ahead)
      if (slot.buffer.data() == sent) STRATA_CUDA_CHECK(cudaEventRecord(slot.consumed, state_->stream));
  }

  // The device's float copy of a batch of n values, for a transposed batch copy.
  float* batch_staging(std::size_t n, const char* what) const {
    if (n > state_->float_staging.size())
      throw std::invalid_argument(std::string(what) + ": " + std::to_string(n) + " values are more than a batch (" +
                                  std::to_string(state_->float_staging.size()) +
                                  "); channels-last batches cross a batch at a time");
    return state_->float_staging.data();
  }
  struct CachedTensor {
    int batch;
    Dims dims;
    cudnnDataType_t type;
    bool channels_last;
    TensorDescriptor descriptor;
  };

  struct State {
    int device = 0;
    cudaStream_t stream = nullptr;
    cudnnHandle_t cudnn = nullptr;
    Precision precision = Precision::fp32;
    AlgorithmSearch search = AlgorithmSearch::benchmark;
    DirectConvolutions direct = DirectConvolutions::off;
    bool deterministic = false;
    bool channels_last = false;
    bool graph_engines = false;
    bool batches_copied = false;  // a batch has crossed in the current layout
    std::vector<std::unique_ptr<ConvPlan>> conv_plans;
    std::vector<CachedTensor> tensors;
    Staging staging[2];
    int next_staging = 0;
    Buffer<float> float_staging;  // a batch in float on the device (bfloat16 and channels-last copies)
    std::uint64_t direct_copies = 0;
    cudaStream_t copy_stream = nullptr;  // batches sent ahead
    Ahead ahead[2];
    int next_ahead = 0;
    std::uint64_t uploads_from_ahead = 0;
    Buffer<float> pixel_weights;
    std::vector<float> uploaded_weights;
    bool weights_uploaded = false;
    Buffer<OutputSums> output_sums_device;
    PinnedBuffer<OutputSums> output_sums_host;
    Buffer<double> loss_partials, loss_total;
    PinnedBuffer<double> loss_host;
    std::uint64_t weights_version = 0;  // uploads of pixel_weights so far
    StepGraphs<GraphExec> graphs;
    GraphPhase phase = GraphPhase::none;
    Buffer<StepGraphValues> values_device;
    PinnedBuffer<StepGraphValues> values_host;
    Buffer<StepGraphResult> result_device;
    PinnedBuffer<StepGraphResult> result_host;

    State() {
      STRATA_CUDA_CHECK(cudaGetDevice(&device));
      // A blocking stream: it also orders against work on the legacy default stream (cudaMemcpy).
      STRATA_CUDA_CHECK(cudaStreamCreate(&stream));
      try {
        STRATA_CUDA_CHECK(cudaStreamCreate(&copy_stream));
        STRATA_CUDA_CHECK(cudnnCreate(&cudnn));
        STRATA_CUDA_CHECK(cudnnSetStream(cudnn, stream));
      } catch (...) {
        release();
        throw;
      }
    }
    ~State() { release(); }
    State(const State&) = delete;
    State& operator=(const State&) = delete;

    // Errors are ignored here: there is nobody left to tell.
    void release() {
      if (stream != nullptr) (void)cudaStreamSynchronize(stream);
      if (copy_stream != nullptr) (void)cudaStreamSynchronize(copy_stream);
      for (Staging& slot : staging)
        if (slot.done != nullptr) (void)cudaEventDestroy(std::exchange(slot.done, nullptr));
      for (Ahead& slot : ahead)
        for (cudaEvent_t* event : {&slot.copied, &slot.consumed})
          if (*event != nullptr) (void)cudaEventDestroy(std::exchange(*event, nullptr));
      conv_plans.clear();  // their graph-API engines were built with the handle
      if (cudnn != nullptr) (void)cudnnDestroy(std::exchange(cudnn, nullptr));
      if (copy_stream != nullptr) (void)cudaStreamDestroy(std::exchange(copy_stream, nullptr));
      if (stream != nullptr) (void)cudaStreamDestroy(std::exchange(stream, nullptr));
    }
  };

  std::unique_ptr<State> state_;
};

// The context a backend call runs in; Model puts it in every StepInfo.
inline Context& context_of(const StepInfo& step) {
  if (step.context == nullptr)
    throw std::logic_error("strata::Cuda: this call has no device context; run layers through Model<Net, Cuda>");
  return static_cast<Context&>(*step.context);
}

}  // namespace strata::cuda
