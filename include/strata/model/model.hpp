// strata/model/model.hpp: a network's state on a device, and its training step.
//
//   strata::Model<Net, strata::Cpu> model{/*max_batch=*/64, /*seed=*/1};
//   float loss = model.train_step(x, y, batch, strata::BinaryCrossEntropy{}, adam);
//   model.predict(x, batch, out);
//
// Model owns, for a batch of at most max_batch, every buffer the network needs: parameters,
// their gradients, the optimizer's per-parameter state, persistent buffers (running statistics),
// every layer's output (a skip block's input marker passes its input on in the same memory), two
// gradient buffers used in turn by backward, one more per skip block (layers/skip.hpp), what
// layers save between forward and backward, and one scratch area. All of it is allocated in the constructor; forward,
// backward and train_step allocate nothing. Layers run from a flat table of function pointers;
// a Conv followed by a ReLU runs as one pass forward and one backward where the backend fuses
// them (strata::Cpu and strata::Cuda), with the results of the two layers run one after the
// other (on the CPU bit for bit; cuDNN's fused forward passes a NaN on where ReLU gives 0).
//
// Contracts:
//   - host data is NCHW float, sample after sample; spans must have exactly batch * sample size
//     elements and 1 <= batch <= max_batch, else std::invalid_argument says what was expected
//   - train_step runs in training mode whatever train()/eval() say (as Keras' train_on_batch);
//     predict and evaluate run in eval mode; forward() follows train()/eval()
//   - on strata::Cpu predict and evaluate run a few images at a time through every layer
//     (run_forward): the same output, faster; backward after them throws std::logic_error
//   - non-finite weights, loss or parameter gradients throw strata::NonFiniteError, naming the
//     first tensor or layer whose values went bad, before any weight changes
//   - the backend's per-model state (Device::Context: for strata::Cuda the stream, cuDNN handle and
//     algorithm cache) lives here; a failed device call throws strata::DeviceError naming the call,
//     the layer and the status
//   - on a backend with step graphs (strata::Cuda, Context::set_step_graphs(true)) train_step is
//     recorded once per batch size, loss and optimizer and replayed, with the same results and
//     checks (core/step_graph.hpp); strata::Cpu always runs it call by call
//   - initialisation is a pure function of the seed: Glorot-uniform weights (He-uniform on
//     request), zero biases, BatchNorm gamma 1 and running variance 1
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/core/bfloat16.hpp"
#include "strata/core/blank.hpp"
#include "strata/core/device.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/output_sums.hpp"
#include "strata/core/random.hpp"
#include "strata/core/step_graph.hpp"
#include "strata/core/tensor.hpp"
#include "strata/core/type_list.hpp"
#include "strata/layers/relu.hpp"
#include "strata/losses/loss.hpp"
#include "strata/model/sequential.hpp"

namespace strata {

struct ModelOptions {
  Init init = Init::glorot_uniform;
  int threads = 0;              // CPU worker threads; 0: the backend's default (all cores)
  bool input_gradient = false;  // also compute the gradient with respect to the input
};

// A parameter or buffer of a model: "0.conv.weight" with its shape and device memory.
template <class T>
struct NamedTensor {
  std::string name;
  std::vector<int> shape;
  T* data = nullptr;
  std::size_t size = 0;
  std::size_t offset = 0;  // into parameter_data() (trainable) or buffer_data()
  bool trainable = true;
};

// What train_step found not finite (NaN or infinite).
enum class NonFiniteKind {
  loss,      // the loss of the batch
  gradient,  // a parameter gradient, with a finite loss (on the CPU a NaN input can hide behind ReLU;
             // cuDNN's fused convolution + ReLU passes it on to the loss)
  weights,   // the weights before the step (set or loaded from outside: ReLU hides a NaN weight too)
};

// Thrown by train_step when the weights, the loss or a parameter gradient hold NaN or infinite
// values; the weights, the optimizer, BatchNorm's statistics and the step count are left as
// they were. `origin` names where the first non-finite values are: a weight tensor, the input
// batch, a layer's output, or (every activation finite) the first gradient tensor from the output.
class NonFiniteError : public std::runtime_error {
 public:
  NonFiniteError(NonFiniteKind kind, std::uint64_t step, double loss, std::string origin)
      : std::runtime_error(describe(kind, step, loss) +
                           (origin.empty() ? std::string() : "; first non-finite values: " + origin) +
                           (kind == NonFiniteKind::weights
                                ? "; load good weights (a checkpoint) before training"
                                : "; the weights were not updated (lower the learning rate, or check the data for "
                                  "NaN values and targets outside [0, 1])")),
        kind_(kind),
        step_(step),
        loss_(loss),
        origin_(std::move(origin)) {}
  NonFiniteKind kind() const { return kind_; }
  std::uint64_t step() const { return step_; }
  double loss() const { return loss_; }  // NaN when the step stopped before the loss (kind weights)
  const std::string& origin() const { return origin_; }

 private:
  static std::string describe(NonFiniteKind kind, std::uint64_t step, double loss) {
    const std::string at = " at training step " + std::to_string(step);
    switch (kind) {
      case NonFiniteKind::loss: return "the loss is not finite" + at + " (loss " + std::to_string(loss) + ")";
      case NonFiniteKind::gradient:
        return "a parameter gradient is not finite" + at + " (loss " + std::to_string(loss) + ")";
      case NonFiniteKind::weights: return "the weights are not finite before training step " + std::to_string(step);
    }
    return {};
  }
  NonFiniteKind kind_;
  std::uint64_t step_;
  double loss_;
  std::string origin_;
};

template <class Net, class Device, class T = float>
class Model {
  // Parameters, optimizer state, persistent buffers, scratch and host data: float for a bfloat16
  // model (fp32 master weights, core/bfloat16.hpp), else T.
  using P = parameter_t<T>;
  static_assert(!is_bfloat16<T> || requires { requires Device::bfloat16_activations; },
                "Model<Net, Device, bfloat16>: this backend keeps activations in float only; bfloat16 "
                "activations are a strata::Cuda mode (Model<Net, strata::Cuda, strata::bfloat16>)");

 public:
  using network = Net;
  using device = Device;
  using scalar = T;             // of the activations and their gradients
  using parameter_scalar = P;   // of the parameters and of host data
  static constexpr std::size_t layer_count = Net::layer_count;
  static constexpr Dims input_dims = Net::dims_at(0);
  static constexpr Dims output_dims = Net::dims_at(layer_count);
  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;

  Model(int max_batch, std::uint64_t seed, ModelOptions options = {})
      : max_batch_(max_batch),
        seed_(seed),
        threads_(options.threads > 0 ? options.threads : Device::default_threads()),
        input_gradient_enabled_(options.input_gradient) {
    if (max_batch < 1)
      throw std::invalid_argument("Model: max_batch must be at least 1, got " + std::to_string(max_batch));
    plan(typename Net::layers{});
    context_.reserve(memory_plan());  // a backend may refuse, saying which max_batch would fit
    allocate();
    initialise(options.init);
  }

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&&) noexcept = default;
  Model& operator=(Model&&) noexcept = default;

  // ---- configuration ----
  int max_batch() const { return max_batch_; }
  std::uint64_t seed() const { return seed_; }
  // The seed also drives dropout masks; a checkpoint restores it along with the step count.
  void set_seed(std::uint64_t seed) { seed_ = seed; }
  int threads() const { return threads_; }
  // Fewer threads than the model was built for is fine; more would outgrow the scratch memory.
  void set_threads(int threads) {
    if (threads < 1 || threads > planned_threads())
      throw std::invalid_argument("Model::set_threads: expected 1.." + std::to_string(planned_threads()) +
                                  " (the count the model was built with), got " + std::to_string(threads));
    threads_ = threads;
  }
  void train() { training_ = true; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }
  // Whether layer i's forward pass also applies the ReLU after it (see fused_relu_ below).
  static constexpr bool fuses_relu_after(std::size_t i) { return i < layer_count && fused_relu_[i]; }
  // ... and whether its backward pass also takes the ReLU's (see fused_relu_backward_).
  static constexpr bool fuses_relu_backward_after(std::size_t i) {
    return i < layer_count && fused_relu_backward_[i];
  }

  // Training forward passes so far; it varies the dropout masks, and checkpoints keep it.
  std::uint64_t step_count() const { return step_; }
  void set_step_count(std::uint64_t step) { step_ = step; }
  // The backend's per-model state (strata::Cuda: stream, cuDNN handle, precision settings).
  typename Device::Context& device_context() { return context_; }

  // ---- low-level passes on device memory ----
  // The input buffer for a batch: fill it (Device::copy_batch_to_device puts host images in the
  // backend's layout), then call forward(batch).
  BasicTensor<T> input(int batch) {
    check_batch(batch, "input");
    return {activations_.data(), batch, input_dims};
  }

  // Runs every layer on input(batch) in the current mode; returns the output.
  BasicTensor<const T> forward(int batch) { return run_forward(batch, /*in_groups=*/false); }

  // The output of the last forward pass (device memory), valid until the next one.
  BasicTensor<const T> output() const { return activation(layer_count, last_batch_); }

  // A buffer for the gradient of the loss with respect to the output of the last forward.
  BasicTensor<T> output_gradient() { return {output_gradient_.data(), last_batch_, output_dims}; }

  // Back-propagates grad_out (usually output_gradient()) through the last forward pass; writes
  // every parameter gradient (they are not accumulated across calls).
  void backward(BasicTensor<const T> grad_out) {
    if (last_batch_ == 0) throw std::logic_error("Model::backward: call forward first");
    if (only_output_kept_)
      throw std::logic_error("Model::backward: the last pass was a predict or evaluate, which keeps only the "
                             "output; call forward first");
    if (grad_out.batch != last_batch_ || !(grad_out.dims == output_dims))
      throw std::invalid_argument("Model::backward: expected a gradient of batch " + std::to_string(last_batch_) +
                                  " x " + output_dims.to_string() + " (the last forward), got batch " +
                                  std::to_string(grad_out.batch) + " x " + grad_out.dims.to_string());
    const int batch = last_batch_;
    last_step_.context = &context_;  // the model may have moved since forward
    for (std::size_t k = layer_count; k-- > 0;) {
      if (k > 0 && fused_relu_backward_[k - 1]) continue;  // the Conv before it masks its gradient
      const Dims in = Net::dims_at(k);
      // Through a fused ReLU the layer receives the gradient of the ReLU's output.
      const std::size_t out = fused_relu_backward_[k] ? k + 2 : k + 1;
      const BasicTensor<const T> dy =
          out == layer_count ? grad_out : BasicTensor<const T>{gradient_buffer(out), batch, Net::dims_at(out)};
      BasicTensor<T> dx{nullptr, batch, in};
      // The layers up to the first that is not a skip block's input marker all take the network's
      // input (the markers pass it on): its gradient only when asked for.
      if (k > leading_skip_inputs_ || input_gradient_enabled_)
        dx.data = k > 0 ? gradient_buffer(k) : input_gradient_.data();
      const BackwardArgs<T> args{activation(k, batch),
                                 activation(out, batch),
                                 dy,
                                 dx,
                                 parameters_.data() + layers_[k].parameter_offset,
                                 gradients_.data() + layers_[k].parameter_offset,
                                 buffers_.data() + layers_[k].buffer_offset,
                                 saved_.data() + layers_[k].saved_offset,
                                 scratch_.data(),
                                 static_cast<int>(k),
                                 last_step_,
                                 skip_end(k) ? skip_gradients_.data() + layers_[k].skip_gradient_offset : nullptr};
      run_layer(fused_relu_backward_[k] ? layer_table_[k].backward_relu : layer_table_[k].backward, args, k,
                "backward");
    }
  }

  // The gradient with respect to the input of the last backward (ModelOptions::input_gradient).
  BasicTensor<const T> input_gradient() const {
    if (!input_gradient_enabled_)
      throw std::logic_error("Model::input_gradient: construct the model with ModelOptions{.input_gradient = true}");
    return {input_gradient_.data(), last_batch_, input_dims};
  }

  // ---- one-call API on host data (NCHW float) ----
  template <class Loss, class Optimizer>
  P train_step(std::span<const P> x, std::span<const P> y, int batch, const Loss& loss, Optimizer& optimizer) {
    return train_step(HostBatch{x, y, nullptr}, batch, loss, optimizer);
  }

  // Inpainting on whole images: the input is `images` with `hole` set to hole.fill in every
  // channel, the target `images` itself. The batch crosses to the device once and the hole is
  // blanked there; the step is the one train_step(blanked copy, images, ...) takes.
  template <class Loss, class Optimizer>
  P train_step(std::span<const P> images, const BlankRectangle& hole, int batch, const Loss& loss,
               Optimizer& optimizer) {
    check_blank(hole, "train_step");
    return train_step(HostBatch{images, images, &hole}, batch, loss, optimizer);
  }

  // Loss of a batch in eval mode (no update): for validation.
  template <class Loss>
  P evaluate(std::span<const P> x, std::span<const P> y, int batch, const Loss& loss) {
    return static_cast<P>(compute_loss(HostBatch{x, y, nullptr}, batch, loss, /*training=*/false, "evaluate"));
  }
  // ... of whole images whose input has `hole` blanked (as train_step above).
  template <class Loss>
  P evaluate(std::span<const P> images, const BlankRectangle& hole, int batch, const Loss& loss) {
    check_blank(hole, "evaluate");
    return static_cast<P>(
        compute_loss(HostBatch{images, images, &hole}, batch, loss, /*training=*/false, "evaluate"));
  }

  // Starts sending the images of the next call (its x, or its images with a hole) to the device
  // while the current one computes, on a backend that can (strata::Cuda, from page-locked memory:
  // Cuda::lock_host_memory, cudaMallocHost); false, doing nothing, elsewhere. The next
  // train_step, evaluate or predict of exactly these images then takes them from that copy; keep
  // them unchanged until then. (The trainer sends each batch during the step before it.)
  bool upload_ahead(std::span<const P> images) {
    if constexpr (requires(const P* p, std::size_t n, typename Device::Context& c) { Device::upload_ahead(p, n, c); })
      return Device::upload_ahead(images.data(), images.size(), context_);
    else
      return false;
  }

  // Output of a batch in eval mode, copied to `out`.
  void predict(std::span<const P> x, int batch, std::span<P> out) {
    check_span(x, batch, input_dims, "predict", "x");
    check_span(std::span<const P>(out.data(), out.size()), batch, output_dims, "predict", "out");
    Device::copy_batch_to_device(input(batch), x.data(), context_);
    const ModeScope eval_mode(training_, false);
    const BasicTensor<const T> result = run_forward(batch, /*in_groups=*/true);
    Device::copy_batch_to_host(out.data(), result, context_);
  }

  // Per image of the last train_step or evaluate, how the output compares with that call's
  // target (core/output_sums.hpp): values with round(output) == round(target), and the sums of
  // |output - target| and its square over `region` of every channel. The output stays where it
  // is: on a GPU only these numbers are copied. `out` needs one element per image of that batch.
  void output_sums(const BlankRectangle& region, std::span<OutputSums> out) {
    if (!output_has_targets_)
      throw std::logic_error("Model::output_sums: call train_step or evaluate first (forward and predict do not set "
                             "a target)");
    if (const std::string why = region.check(output_dims); !why.empty())
      throw std::invalid_argument("Model::output_sums: " + why);
    if (out.size() < static_cast<std::size_t>(last_batch_))
      throw std::invalid_argument("Model::output_sums: room for " + std::to_string(out.size()) +
                                  " images, the last batch had " + std::to_string(last_batch_));
    Device::output_sums(output(), BasicTensor<const T>(target_tensor(last_batch_)), region, out.data(),
                        context_);
  }

  // ---- parameters and state ----
  // Trainable tensors in order ("0.conv.weight", "0.conv.bias", ...), then the buffers.
  const std::vector<NamedTensor<P>>& parameters() const { return parameter_tensors_; }
  const std::vector<NamedTensor<P>>& buffers() const { return buffer_tensors_; }
  // Flat device memory, parameter_count (or buffer_count) values, in the order above.
  std::span<P> parameter_data() { return {parameters_.data(), parameter_count}; }
  std::span<P> gradient_data() { return {gradients_.data(), parameter_count}; }
  std::span<P> buffer_data() { return {buffers_.data(), buffer_count}; }
  // Two slots of parameter_count values: Adam's m then v, or Sgd's velocity.
  std::span<P> optimizer_state() { return {optimizer_state_.data(), kOptimizerSlots * parameter_count}; }

 private:
  static constexpr std::size_t kOptimizerSlots = 2;

  struct LayerPlan {
    std::size_t parameter_offset = 0;
    std::size_t buffer_offset = 0;
    std::size_t saved_offset = 0;
    std::size_t activation_offset = 0;  // of this layer's output, per max_batch
    std::size_t skip_gradient_offset = 0;  // a skip block's ends: the gradient set aside, in skip_gradients_
  };
  struct LayerFunctions {
    void (*forward)(const ForwardArgs<T>&);
    void (*backward)(const BackwardArgs<T>&);
    void (*forward_relu)(const ForwardArgs<T>&);    // forward with a following ReLU fused in, or null
    void (*backward_relu)(const BackwardArgs<T>&);  // backward of that pair, or null
  };

  // A layer that can store its output through a ReLU (Conv's forward_relu), on a backend that
  // fuses (conv2d_forward_relu: the CPU's GEMM applies it as it stores each tile).
  // Asked as a call, not as `&L::template forward_relu<Device, T>`: nvcc 13's front end answers
  // false to that address form inside Model while the host compiler answers true, and then
  // compiles no device code for the kernels only the fused path launches (a bfloat16 model's
  // bias + ReLU failed with cudaErrorInvalidDeviceFunction). tests/model/model.cpp (g++) and
  // tests/backend/cuda/parity.cu (nvcc) assert that the pairs are fused.
  template <class L>
  static constexpr bool has_relu_epilogue =
      requires(const ForwardArgs<T>& a) { L::template forward_relu<Device, T>(a); } &&
      requires { Device::conv2d_forward_relu; };

  // ... and its backward through the ReLU (conv2d_backward_relu: the CPU masks each image's
  // gradient in cache instead of in a pass over the batch).
  template <class L>
  static constexpr bool has_relu_backward =
      requires(const BackwardArgs<T>& a) { L::template backward_relu<Device, T>(a); } &&
      requires { Device::conv2d_backward_relu; };

  template <class L>
  static constexpr auto forward_relu_of() {
    if constexpr (has_relu_epilogue<L>) return &L::template forward_relu<Device, T>;
    else return static_cast<void (*)(const ForwardArgs<T>&)>(nullptr);
  }
  template <class L>
  static constexpr auto backward_relu_of() {
    if constexpr (has_relu_backward<L>) return &L::template backward_relu<Device, T>;
    else return static_cast<void (*)(const BackwardArgs<T>&)>(nullptr);
  }

  template <class... Ls>
  static constexpr std::array<LayerFunctions, sizeof...(Ls)> table(type_list<Ls...>) {
    return {LayerFunctions{&Ls::template forward<Device, T>, &Ls::template backward<Device, T>,
                           forward_relu_of<Ls>(), backward_relu_of<Ls>()}...};
  }
  static constexpr std::array<LayerFunctions, layer_count> layer_table_ = table(typename Net::layers{});

  // fused_relu_[i]: layer i has a ReLU epilogue and a ReLU follows it. The pair runs as one
  // forward pass (the ReLU's forward is skipped) and shares one output buffer: the ReLU's
  // backward needs only its output, the layer's own backward not its output at all. That saves a
  // read and a write of the whole activation per pair (ConvNet v1: 6 of its 7 convolutions).
  template <class... Ls>
  static constexpr std::array<bool, sizeof...(Ls)> relu_pairs(type_list<Ls...>) {
    constexpr std::array<bool, sizeof...(Ls)> epilogue{has_relu_epilogue<Ls>...};
    constexpr std::array<bool, sizeof...(Ls)> relu{std::is_same_v<Ls, ReLU>...};
    std::array<bool, sizeof...(Ls)> fused{};
    for (std::size_t i = 0; i + 1 < sizeof...(Ls); ++i) fused[i] = epilogue[i] && relu[i + 1];
    return fused;
  }
  static constexpr std::array<bool, layer_count> fused_relu_ = relu_pairs(typename Net::layers{});

  // fused_relu_backward_[i]: such a pair whose backward is one pass too: layer i's backward takes
  // the gradient of the ReLU's output and the ReLU's backward is skipped.
  template <class... Ls>
  static constexpr std::array<bool, sizeof...(Ls)> relu_backward_pairs(type_list<Ls...>) {
    constexpr std::array<bool, sizeof...(Ls)> backward{has_relu_backward<Ls>...};
    std::array<bool, sizeof...(Ls)> fused{};
    for (std::size_t i = 0; i < sizeof...(Ls); ++i) fused[i] = fused_relu_[i] && backward[i];
    return fused;
  }
  static constexpr std::array<bool, layer_count> fused_relu_backward_ = relu_backward_pairs(typename Net::layers{});

  // Which of the two gradient buffers holds the gradient with respect to layer k's input: each
  // backward pass that runs writes the buffer its input gradient is not in (a skipped ReLU's
  // input gradient is never made).
  static constexpr std::array<unsigned char, layer_count + 1> gradient_slots() {
    std::array<unsigned char, layer_count + 1> slot{};
    int last = -1;  // the slot the next layer down reads (none: the loss gradient's own buffer)
    for (std::size_t k = layer_count; k-- > 1;) {
      if (fused_relu_backward_[k - 1]) continue;
      slot[k] = last == 0 ? 1 : 0;
      last = slot[k];
    }
    return slot;
  }
  static constexpr std::array<unsigned char, layer_count + 1> gradient_slots_ = gradient_slots();

  // Skip blocks (layers/skip.hpp: Residual, Concat): skip_input_[i], layer i is a block's
  // SkipInput, whose output is its input's memory; skip_span_[k], layer k is a block's join whose
  // SkipInput is that many layers back (else 0).
  static constexpr std::array<bool, layer_count> skip_input_ = detail::skip_inputs(typename Net::layers{});
  static constexpr std::array<std::size_t, layer_count> skip_span_ = detail::skip_spans(typename Net::layers{});
  static constexpr bool skip_end(std::size_t k) { return skip_input_[k] || skip_span_[k] > 0; }
  // How many layers at the start are SkipInputs (skip blocks opening at the network's input).
  static constexpr std::size_t leading_skip_inputs_ = [] {
    std::size_t n = 0;
    while (n < layer_count && skip_input_[n]) ++n;
    return n;
  }();

  // forward, and with in_groups (predict and evaluate) in eval mode on a backend that asks for it
  // (Cpu::inference_images_at_once), a few images at a time through the whole stack instead of
  // each layer over the whole batch: every layer treats each image on its own in eval mode, so the
  // output is the same, bit for bit. The layers in between write the first images of their
  // buffers, group after group, so they stay in cache; only the output is whole afterwards.
  BasicTensor<const T> run_forward(int batch, bool in_groups) {
    check_batch(batch, "forward");
    output_has_targets_ = false;  // until a train_step or evaluate puts its target beside the output
    if (training_) ++step_;
    const StepInfo step{training_, seed_, step_, threads_, &context_};
    int images_at_once = batch;
    bool grouped = false;
    if constexpr (requires { Device::inference_images_at_once(1); }) {
      grouped = in_groups && !training_;
      if (grouped) images_at_once = std::clamp(Device::inference_images_at_once(threads_), 1, batch);
    }
    // Set first, so that a pass that fails half-way leaves no backward to run on its buffers.
    only_output_kept_ = grouped;
    for (int first = 0; first < batch; first += images_at_once) {
      const int count = std::min(images_at_once, batch - first);
      for (std::size_t i = 0; i < layer_count; ++i) {
        if (i > 0 && fused_relu_[i - 1]) continue;  // the Conv before it applied it
        run_layer(fused_relu_[i] ? layer_table_[i].forward_relu : layer_table_[i].forward,
                  forward_args(i, count, step, first, grouped), i, "forward");
      }
    }
    last_batch_ = batch;
    last_step_ = step;
    return activation(layer_count, batch);
  }

  // Layer i's arguments for `batch` images from image `first` of the batch on; in_groups, as
  // run_forward runs a group: the layers in between at the start of their buffers.
  ForwardArgs<T> forward_args(std::size_t i, int batch, const StepInfo& step, int first = 0, bool in_groups = false) {
    const std::size_t span = skip_span_[i];
    const auto images = [&](std::size_t j) {
      const int at = in_groups && !holds_input_or_output(j) ? 0 : first;
      const BasicTensor<T> t = activation(j, at + batch);
      return BasicTensor<T>{t.data + static_cast<std::size_t>(at) * t.dims.size(), batch, t.dims};
    };
    return {images(i),
            images(i + 1),
            parameters_.data() + layers_[i].parameter_offset,
            buffers_.data() + layers_[i].buffer_offset,
            saved_.data() + layers_[i].saved_offset,
            scratch_.data(),
            static_cast<int>(i),
            step,
            span > 0 ? BasicTensor<const T>(images(i - span)) : BasicTensor<const T>{}};
  }
  // Whether activation(j) is the memory of the network's input (a skip marker passes its input
  // on in it) or of its output (a fused Conv + ReLU at the end writes the ReLU's output there).
  bool holds_input_or_output(std::size_t j) const {
    const T* memory = activation(j, 1).data;
    return memory == activation(0, 1).data || memory == activation(layer_count, 1).data;
  }

  int planned_threads() const { return planned_threads_; }

  // Layer outputs start 256 bytes apart or more (64 values), so every one is as aligned for
  // vector loads and tensor-core kernels as the allocation (2-byte bfloat16 sizes may be odd).
  static constexpr std::size_t aligned_values(std::size_t n) { return (n + 63) / 64 * 64; }
  // The input's share of activations_, at max_batch.
  std::size_t input_values() const {
    return aligned_values(static_cast<std::size_t>(max_batch_) * input_dims.size());
  }

  template <class... Ls>
  void plan(type_list<Ls...>) {
    planned_threads_ = threads_;
    std::size_t index = 0;
    (plan_layer<Ls>(index++), ...);
  }

  template <class L>
  void plan_layer(std::size_t i) {
    const Dims in = Net::dims_at(i);
    LayerPlan& p = layers_[i];
    p.parameter_offset = parameter_cursor_;
    p.buffer_offset = buffer_cursor_;
    p.saved_offset = saved_floats_;
    for (int t = 0; t < L::parameter_tensors; ++t) add_tensor(i, L::kind, L::parameter(t, in), true);
    for (int t = 0; t < L::buffer_tensors; ++t) add_tensor(i, L::kind, L::buffer(t, in), false);
    saved_floats_ += L::saved_floats(in, max_batch_);
    scratch_floats_ = std::max(scratch_floats_, L::template scratch_floats<Device>(in, max_batch_, threads_));
    if (i > 0 && fused_relu_[i - 1]) {
      p.activation_offset = layers_[i - 1].activation_offset;  // a fused ReLU: the layer before writes it
    } else if (skip_input_[i]) {
      // Its output is its input (activation() says so): nothing to allocate.
    } else {
      p.activation_offset = activation_floats_;
      activation_floats_ += aligned_values(static_cast<std::size_t>(max_batch_) * Net::dims_at(i + 1).size());
    }
    if (i > 0) gradient_floats_ = std::max(gradient_floats_, static_cast<std::size_t>(max_batch_) * in.size());
    if (const std::size_t span = skip_span_[i]; span > 0) {  // a skip block's join and its SkipInput
      p.skip_gradient_offset = skip_gradient_floats_;
      layers_[i - span].skip_gradient_offset = skip_gradient_floats_;
      skip_gradient_floats_ += aligned_values(static_cast<std::size_t>(max_batch_) * Net::dims_at(i - span).size());
    }
  }

  void add_tensor(std::size_t layer, const char* kind, const TensorInfo& info, bool trainable) {
    NamedTensor<P> t;
    t.name = std::to_string(layer) + "." + kind + "." + std::string(info.name);
    t.shape.assign(info.extent, info.extent + info.rank);
    t.size = info.size();
    t.trainable = trainable;
    std::size_t& cursor = trainable ? parameter_cursor_ : buffer_cursor_;
    t.offset = cursor;  // data is set once allocate() has the memory
    cursor += t.size;
    (trainable ? parameter_tensors_ : buffer_tensors_).push_back(std::move(t));
    (trainable ? parameter_init_ : buffer_init_).push_back(info);
  }

  void allocate() {
    parameters_ = ParameterBuffer(parameter_count);
    gradients_ = ParameterBuffer(parameter_count);
    optimizer_state_ = ParameterBuffer(kOptimizerSlots * parameter_count);
    buffers_ = ParameterBuffer(buffer_count);
    buffers_backup_ = ParameterBuffer(buffer_count);
    // activations_ holds the input, then every layer's output (but a SkipInput's: its input's).
    activations_ = Buffer(input_values() + activation_floats_);
    gradient_a_ = Buffer(gradient_floats_);
    gradient_b_ = Buffer(gradient_floats_);
    skip_gradients_ = Buffer(skip_gradient_floats_);
    output_gradient_ = Buffer(static_cast<std::size_t>(max_batch_) * output_dims.size());
    targets_ = Buffer(static_cast<std::size_t>(max_batch_) * output_dims.size());
    saved_ = ParameterBuffer(saved_floats_);
    scratch_ = ParameterBuffer(scratch_floats_);
    if (input_gradient_enabled_) input_gradient_ = Buffer(static_cast<std::size_t>(max_batch_) * input_dims.size());
    for (auto& t : parameter_tensors_) t.data = parameters_.data() + t.offset;
    for (auto& t : buffer_tensors_) t.data = buffers_.data() + t.offset;
  }

  // Each tensor draws from its own stream (its position in the list), so adding a layer at the
  // end does not change the initial weights of the others.
  void initialise(Init init) {
    std::vector<P> host;
    auto fill = [&](std::vector<NamedTensor<P>>& tensors, const std::vector<TensorInfo>& infos,
                    std::uint64_t stream_base) {
      for (std::size_t k = 0; k < tensors.size(); ++k) {
        const TensorInfo& info = infos[k];
        host.assign(tensors[k].size, P(0));
        if (info.init == InitRole::ones) std::fill(host.begin(), host.end(), P(1));
        if (info.init == InitRole::weight) {
          const double limit = init == Init::he_uniform ? std::sqrt(6.0 / info.fan_in)
                                                        : std::sqrt(6.0 / (info.fan_in + info.fan_out));
          for (std::size_t e = 0; e < host.size(); ++e)
            host[e] = static_cast<P>((2.0 * uniform01(seed_, stream_base + k, e) - 1.0) * limit);
        }
        Device::copy_to_device(tensors[k].data, host.data(), host.size());
      }
    };
    fill(parameter_tensors_, parameter_init_, 1);
    fill(buffer_tensors_, buffer_init_, 1u << 20);
  }

  BasicTensor<T> activation(std::size_t i, int batch) const {
    if (i > 0 && skip_input_[i - 1]) return activation(i - 1, batch);  // passed on as is
    T* base = activations_.data();
    if (i == 0) return {base, batch, input_dims};
    const std::size_t input_floats = input_values();
    return {base + input_floats + layers_[i - 1].activation_offset, batch, Net::dims_at(i)};
  }

  // The gradient with respect to the input of layer k (k >= 1): the backward passes that run
  // alternate between two buffers (gradient_slots_).
  T* gradient_buffer(std::size_t k) const {
    return gradient_slots_[k] == 0 ? gradient_a_.data() : gradient_b_.data();
  }

  // Runs one layer's pass; a device failure gets the layer's index and name added to its message.
  template <class Pass, class Args>
  static void run_layer(Pass pass, const Args& args, std::size_t i, const char* direction) {
    try {
      pass(args);
    } catch (DeviceError& e) {
      e.set_layer("layer " + std::to_string(i) + " (" + detail::layer_names(typename Net::layers{})[i] + "), " +
                  direction);
      throw;
    }
  }

  std::string first_non_finite_weight(const StepInfo& check) const {
    for (const NamedTensor<P>& t : parameter_tensors_) {
      const std::size_t bad = Device::count_non_finite(t.data, t.size, check);
      if (bad > 0) return "the weights " + t.name + " (" + std::to_string(bad) + " values)";
    }
    return {};
  }

  // Where the first non-finite values of the last training step are: the input batch (as the
  // model received it, in its input buffer), else the first layer output, else (gradients only)
  // the first gradient tensor from the output back.
  std::string first_non_finite(int batch, bool gradient) {
    const auto names = detail::layer_names(typename Net::layers{});
    std::size_t bad = Device::count_non_finite(activations_.data(), static_cast<std::size_t>(batch) * input_dims.size(),
                                               last_step_);
    if (bad > 0) return "the input batch (" + std::to_string(bad) + " values)";
    for (std::size_t i = 1; i <= layer_count; ++i) {
      const BasicTensor<T> out = activation(i, batch);
      // A fused pair's buffer holds the ReLU's output, which hides NaN: the layer's own output is
      // recomputed there for the count, then the ReLU is applied again in place.
      if (fused_relu_[i - 1])
        run_layer(layer_table_[i - 1].forward, forward_args(i - 1, batch, last_step_), i - 1, "forward");
      bad = Device::count_non_finite(out.data, out.size(), last_step_);
      if (fused_relu_[i - 1]) run_layer(layer_table_[i].forward, forward_args(i, batch, last_step_), i, "forward");
      if (bad > 0)
        return "the output of layer " + std::to_string(i - 1) + " (" + names[i - 1] + ", " + std::to_string(bad) +
               " values)";
    }
    if (!gradient) return "the loss itself (every layer output is finite: check the targets)";
    for (std::size_t k = parameter_tensors_.size(); k-- > 0;) {
      const NamedTensor<P>& t = parameter_tensors_[k];
      bad = Device::count_non_finite(gradients_.data() + t.offset, t.size, last_step_);
      if (bad > 0) return "the gradient of " + t.name + " (" + std::to_string(bad) + " values)";
    }
    return {};
  }

  // What allocate() will ask for. Everything but the parameters, their gradients and optimizer
  // state, and the buffers is counted as growing with the batch (an over-estimate for the little
  // that does not: BatchNorm's saved statistics, the CPU's per-thread scratch).
  ModelMemory memory_plan() const {
    const std::size_t batch = static_cast<std::size_t>(max_batch_);
    const std::size_t fixed = ((2 + kOptimizerSlots) * parameter_count + 2 * buffer_count) * sizeof(P);
    const std::size_t growing =
        (input_values() + (input_gradient_enabled_ ? batch * input_dims.size() : 0) + activation_floats_ +
         2 * gradient_floats_ + skip_gradient_floats_ + 2 * batch * output_dims.size()) * sizeof(T) +
        (saved_floats_ + scratch_floats_) * sizeof(P);
    return {max_batch_, input_dims, output_dims, fixed + growing, growing / batch, is_bfloat16<T>};
  }

  void check_batch(int batch, const char* where) const {
    if (batch < 1 || batch > max_batch_)
      throw std::invalid_argument(std::string("Model::") + where + ": batch must be in 1.." +
                                  std::to_string(max_batch_) + " (max_batch), got " + std::to_string(batch));
  }

  void check_span(std::span<const P> s, int batch, Dims dims, const char* where, const char* what) const {
    check_batch(batch, where);
    const std::size_t expected = static_cast<std::size_t>(batch) * dims.size();
    if (s.size() != expected)
      throw std::invalid_argument(std::string("Model::") + where + ": " + what + " must hold batch x " +
                                  dims.to_string() + " = " + std::to_string(expected) + " values, got " +
                                  std::to_string(s.size()));
  }

  // A batch in host memory: input x and target y; or, with `blank`, whole images (x and y both)
  // whose input is the image with that rectangle blanked on the device.
  struct HostBatch {
    std::span<const P> x;
    std::span<const P> y;
    const BlankRectangle* blank = nullptr;
  };

  void check_blank(const BlankRectangle& hole, const char* where) const {
    if constexpr (!(input_dims == output_dims))
      throw std::invalid_argument(std::string("Model::") + where + " with a blanked rectangle needs an output of the "
                                  "input's shape " + input_dims.to_string() + ", not " + output_dims.to_string());
    if (const std::string why = hole.check(input_dims); !why.empty())
      throw std::invalid_argument(std::string("Model::") + where + ": " + why);
  }

  template <class Loss, class Optimizer>
  P train_step(const HostBatch& data, int batch, const Loss& loss, Optimizer& optimizer) {
    static_assert(Optimizer::state_per_parameter <= kOptimizerSlots,
                  "Model keeps at most two values of optimizer state per parameter");
    if constexpr (has_step_graphs<Device> && records_in_step_graphs<Optimizer>) {
      if (context_.step_graphs()) return train_step_graph(data, batch, loss, optimizer);
    }
    return train_step_eager(data, batch, loss, optimizer);
  }

  // train_step, one call after another (every backend).
  template <class Loss, class Optimizer>
  P train_step_eager(const HostBatch& data, int batch, const Loss& loss, Optimizer& optimizer) {
    // BatchNorm updates its running statistics during the forward pass; keep them (a few values
    // per channel) so that a batch with a non-finite loss leaves the model exactly as it was.
    if constexpr (buffer_count > 0)
      Device::copy_within_device(buffers_backup_.data(), buffers_.data(), buffer_count, context_);
    const std::uint64_t step_before = step_;
    // ReLU turns a NaN into 0, so a NaN weight could otherwise train on unnoticed for ever.
    const StepInfo check{true, seed_, step_, threads_, &context_};
    if (Device::count_non_finite(parameters_.data(), parameter_count, check) != 0)
      throw NonFiniteError(NonFiniteKind::weights, step_ + 1, std::nan(""), first_non_finite_weight(check));
    auto reject = [&](double value, NonFiniteKind kind) {
      // The model first, so that it is as it was even if the diagnosis below fails.
      if constexpr (buffer_count > 0)
        Device::copy_within_device(buffers_.data(), buffers_backup_.data(), buffer_count, context_);
      step_ = step_before;
      std::string origin = first_non_finite(batch, kind == NonFiniteKind::gradient);
      throw NonFiniteError(kind, step_before + 1, value, std::move(origin));
    };
    const double value = compute_loss(data, batch, loss, /*training=*/true, "train_step");
    if (!std::isfinite(value)) reject(value, NonFiniteKind::loss);
    backward(output_gradient());
    // A NaN input can hide behind a finite loss (ReLU turns NaN into 0) yet poison the gradients.
    if (Device::count_non_finite(gradients_.data(), parameter_count, last_step_) != 0)
      reject(value, NonFiniteKind::gradient);
    optimizer.template update<Device>(parameters_.data(), gradients_.data(), optimizer_state_.data(),
                                      parameter_count, last_step_);
    return static_cast<P>(value);
  }

  // train_step recorded once as a graph and replayed (a Device with step graphs, turned on in its
  // context; core/step_graph.hpp): the same checks, result and state afterwards as
  // train_step_eager. The device keeps the verdict of the checks and skips the optimizer's update
  // of a rejected step; the host reads the loss and the verdict once, after the replay.
  template <class Loss, class Optimizer>
  P train_step_graph(const HostBatch& data, int batch, const Loss& loss, Optimizer& optimizer) {
    check_span(data.x, batch, input_dims, "train_step", "x");
    check_span(data.y, batch, output_dims, "train_step", "y");
    validate_pixel_weights(loss.pixel_weights, output_dims);
    const StepGraphKey key = context_.step_graph_key(batch, Loss::function, loss.pixel_weights, &type_tag<Optimizer>);
    const auto [action, entry] = context_.step_graph_cache().plan(key);
    if (action == StepGraphAction::eager) {  // the key's first step chooses the convolution algorithms
      const P value = train_step_eager(data, batch, loss, optimizer);
      context_.step_graph_cache().warmed(key);
      return value;
    }
    if constexpr (buffer_count > 0)
      Device::copy_within_device(buffers_backup_.data(), buffers_.data(), buffer_count, context_);
    const std::uint64_t step_before = step_;
    const Optimizer optimizer_before = optimizer;
    upload_batch(data, batch);
    const ModeScope mode(training_, true);
    auto update = [&] {
      optimizer.template update<Device>(parameters_.data(), gradients_.data(), optimizer_state_.data(),
                                        parameter_count, last_step_);
    };
    if (action == StepGraphAction::capture) {
      const bool recorded = Device::capture_step(context_, *entry, [&] {
        const StepInfo check{true, seed_, step_, threads_, &context_};
        Device::record_non_finite(parameters_.data(), parameter_count, StepCheck::weights, check);
        const BasicTensor<const T> prediction = forward(batch);
        Device::loss_forward_backward(Loss::function, prediction,
                                      BasicTensor<const T>(target_tensor(batch)), loss.pixel_weights,
                                      output_gradient(), last_step_);
        backward(output_gradient());
        Device::record_non_finite(gradients_.data(), parameter_count, StepCheck::gradients, last_step_);
        Device::record_verdict(last_step_);
        update();  // skipped on the device unless the verdict accepts the step
      });
      step_ = step_before;  // the recording ran nothing: undo its host side
      optimizer = optimizer_before;
      if (!recorded) return train_step_eager(data, batch, loss, optimizer);  // graphs are off now, with the reason
    }
    // The host side of the replayed step: what forward() and the optimizer's update do on the host.
    ++step_;
    last_batch_ = batch;
    last_step_ = StepInfo{true, seed_, step_, threads_, &context_};
    const StepGraphResult result = Device::replay_step(context_, *entry, seed_, step_, update);
    output_has_targets_ = true;
    const auto verdict = static_cast<StepVerdict>(result.verdict);
    if (verdict == StepVerdict::accepted) return static_cast<P>(result.loss);
    // Rejected: no weight changed on the device. Put the rest back, then diagnose as the eager
    // path does, from what the replay left in the buffers.
    if constexpr (buffer_count > 0)
      Device::copy_within_device(buffers_.data(), buffers_backup_.data(), buffer_count, context_);
    step_ = step_before;
    optimizer = optimizer_before;
    if (verdict == StepVerdict::weights)
      throw NonFiniteError(NonFiniteKind::weights, step_before + 1, std::nan(""), first_non_finite_weight(last_step_));
    const bool gradient = verdict == StepVerdict::gradient;
    throw NonFiniteError(gradient ? NonFiniteKind::gradient : NonFiniteKind::loss, step_before + 1, result.loss,
                         first_non_finite(batch, gradient));
  }

  // An autoencoder's target is often its input, the same host memory (and an inpainting batch's
  // input is its target blanked): then it crosses to the device once and is copied there.
  static bool one_upload(const HostBatch& data) {
    return data.blank != nullptr || (data.y.data() == data.x.data() && data.y.size() == data.x.size());
  }
  // The input into the model's input buffer, with the target too where it is the same images
  // (copied before the hole is blanked).
  void upload_input(const HostBatch& data, int batch) {
    output_has_targets_ = false;  // the input and target change: until the output is made from them
    Device::copy_batch_to_device(input(batch), data.x.data(), context_);
    if (!one_upload(data)) return;
    Device::copy_within_device(targets_.data(), activations_.data(), data.y.size(), context_);
    if (data.blank != nullptr) Device::blank_rectangle(activations_.data(), batch, input_dims, *data.blank, context_);
  }
  // The batch's input and target into the model's buffers.
  void upload_batch(const HostBatch& data, int batch) {
    upload_input(data, batch);
    if (!one_upload(data)) Device::copy_batch_to_device(target_tensor(batch), data.y.data(), context_);
  }

  template <class Loss>
  double compute_loss(const HostBatch& data, int batch, const Loss& loss, bool training, const char* where) {
    check_span(data.x, batch, input_dims, where, "x");
    check_span(data.y, batch, output_dims, where, "y");
    validate_pixel_weights(loss.pixel_weights, output_dims);
    upload_input(data, batch);
    const ModeScope mode(training_, training);
    const BasicTensor<const T> prediction = run_forward(batch, /*in_groups=*/!training);
    // Queued after the forward pass: on a GPU the host stages a pageable target while that runs
    // (a page-locked one crosses directly, once the forward pass is done).
    if (!one_upload(data)) Device::copy_batch_to_device(target_tensor(batch), data.y.data(), context_);
    output_has_targets_ = true;
    return Device::loss_forward_backward(Loss::function, prediction,
                                         BasicTensor<const T>(target_tensor(batch)),
                                         loss.pixel_weights, output_gradient(), last_step_);
  }

  // The target buffer for a batch (the loss reads it beside the output).
  BasicTensor<T> target_tensor(int batch) { return {targets_.data(), batch, output_dims}; }

  using Buffer = typename Device::template Buffer<T>;           // activations and their gradients
  using ParameterBuffer = typename Device::template Buffer<P>;  // everything else

  // Sets the mode for one call and restores it however the call ends.
  class ModeScope {
   public:
    ModeScope(bool& flag, bool value) : flag_(flag), saved_(flag) { flag_ = value; }
    ~ModeScope() { flag_ = saved_; }
    ModeScope(const ModeScope&) = delete;
    ModeScope& operator=(const ModeScope&) = delete;

   private:
    bool& flag_;
    bool saved_;
  };

  int max_batch_;
  std::uint64_t seed_;
  int threads_;
  int planned_threads_ = 1;
  bool input_gradient_enabled_;
  bool training_ = true;
  bool output_has_targets_ = false;  // targets_ holds the target of the last forward's batch
  std::uint64_t step_ = 0;
  int last_batch_ = 0;
  bool only_output_kept_ = false;  // the last forward ran in groups (run_forward): no backward from it
  StepInfo last_step_{};

  std::array<LayerPlan, layer_count> layers_{};
  std::vector<NamedTensor<P>> parameter_tensors_;
  std::vector<NamedTensor<P>> buffer_tensors_;
  std::vector<TensorInfo> parameter_init_;
  std::vector<TensorInfo> buffer_init_;
  std::size_t parameter_cursor_ = 0;
  std::size_t buffer_cursor_ = 0;
  std::size_t saved_floats_ = 0;
  std::size_t scratch_floats_ = 0;
  std::size_t activation_floats_ = 0;
  std::size_t gradient_floats_ = 0;
  std::size_t skip_gradient_floats_ = 0;  // one batch of each skip block's input gradient

  // Before the buffers: constructed first, destroyed last.
  typename Device::Context context_{};
  ParameterBuffer parameters_, gradients_, optimizer_state_, buffers_, saved_, scratch_;
  Buffer activations_, gradient_a_, gradient_b_, skip_gradients_, output_gradient_, targets_;
  Buffer input_gradient_;
  ParameterBuffer buffers_backup_;  // the buffers before a step, on the device (no wait); see train_step
};

}  // namespace strata
