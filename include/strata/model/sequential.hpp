// strata/model/sequential.hpp: a network architecture as a type.
//
//   using Net = Sequential<Input<3, 64, 64>, Conv<32, 3>, ReLU, MaxPool<2>, ...>;
//   Net::input_shape, Net::output_shape       Shape<C, H, W> types
//   Net::parameter_count, Net::layer_count    constexpr
//   Net::summary()                            a Keras-like table as text
//
// A Sequential that does not start with Input is a block: it can be nested in another
// Sequential and is flattened there; Repeat<N, Elements...> is a block repeated N times;
// Residual<Elements...> a block whose input is added to its output, Concat<Elements...> one whose
// input's channels are stacked before its output's (layers/skip.hpp: they flatten into a
// SkipInput, the block's layers and their join; the join's shape is computed here). The
// shapes of every layer are computed by constexpr shape rules over a flat list; a layer that
// rejects its input stops compilation with a message naming its index, kind and input shape.
// Sequential holds no memory: strata::Model<Net, Device> does.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "strata/core/compile_text.hpp"
#include "strata/core/layer.hpp"
#include "strata/core/shape.hpp"
#include "strata/core/type_list.hpp"
#include "strata/layers/concat.hpp"
#include "strata/layers/residual.hpp"
#include "strata/layers/skip.hpp"

namespace strata {

template <class... Elements>
struct Sequential;

template <std::size_t N, class... Elements>
struct Repeat;

// What a layer spec must provide (see LayerDefaults in core/layer.hpp).
template <class L>
concept LayerSpec = requires(Dims d) {
  { L::kind } -> std::convertible_to<const char*>;
  { L::name() } -> std::same_as<CompileText>;
  { L::check(d) } -> std::same_as<CompileText>;
  { L::output_dims(d) } -> std::same_as<Dims>;
  { L::parameter_tensors } -> std::convertible_to<int>;
  { L::buffer_tensors } -> std::convertible_to<int>;
};

namespace detail {

template <class>
inline constexpr bool always_false = false;

template <class E>
struct flatten {
  static_assert(LayerSpec<E>,
                "strata::Sequential: this element is not a layer (a layer spec derives from "
                "strata::LayerDefaults and defines kind, name(), check() and output_dims())");
  using type = std::conditional_t<LayerSpec<E>, type_list<E>, type_list<>>;  // no follow-on errors
};

template <class... Es>
using flatten_all = decltype((type_list<>{} + ... + typename flatten<Es>::type{}));

template <class... Es>
struct flatten<Sequential<Es...>> {
  using type = flatten_all<Es...>;
};

template <int C, int H, int W, class... Es>
struct flatten<Sequential<Input<C, H, W>, Es...>> {
  static_assert(always_false<Input<C, H, W>>,
                "strata::Sequential: a Sequential nested in another must not start with "
                "Input<C, H, W>; write the block without Input and give the outer one the Input");
  using type = type_list<>;
};

template <int C, int H, int W>
struct flatten<Input<C, H, W>> {
  static_assert(always_false<Input<C, H, W>>,
                "strata::Sequential: Input<C, H, W> may only be the first element of the "
                "outermost Sequential");
  using type = type_list<>;
};

template <std::size_t N, class... Es>
struct flatten<Repeat<N, Es...>> {
  using type = repeat_t<flatten_all<Es...>, N>;
};

// A skip block's ends are what Residual and Concat flatten into, never elements of their own: a
// join without its input marker (or the reverse) would lose half of the gradient.
template <class Names>
struct flatten<SkipInput<Names>> {
  static_assert(always_false<Names>,
                "strata::Sequential: ResidualInput and ConcatInput are the ends of a skip block; write "
                "Residual<Layers...> or Concat<Layers...> instead");
  using type = type_list<>;
};
template <std::size_t Span>
struct flatten<ResidualAdd<Span>> {
  static_assert(always_false<ResidualAdd<Span>>,
                "strata::Sequential: ResidualAdd is the end of a residual block; write Residual<Layers...>");
  using type = type_list<>;
};
template <std::size_t Span>
struct flatten<ConcatJoin<Span>> {
  static_assert(always_false<ConcatJoin<Span>>,
                "strata::Sequential: ConcatJoin is the end of a concatenating block; write Concat<Layers...>");
  using type = type_list<>;
};

// A skip block's flat list: its input marker, its layers, and its join, which names how many
// layers back the marker is.
template <class InputMarker, template <std::size_t> class Join, class... Es>
using skip_block = decltype(type_list<InputMarker>{} + flatten_all<Es...>{} +
                            type_list<Join<flatten_all<Es...>::size + 1>>{});

template <class... Es>
struct flatten<Residual<Es...>> {
  static_assert(sizeof...(Es) > 0,
                "strata::Residual: a residual block needs at least one layer, as in "
                "Residual<Conv<32, 3>, ReLU, Conv<32, 3>>");
  using type = skip_block<ResidualInput, ResidualAdd, Es...>;
};

template <class... Es>
struct flatten<Concat<Es...>> {
  static_assert(sizeof...(Es) > 0,
                "strata::Concat: a concatenating block needs at least one layer, as in "
                "Concat<MaxPool<2>, Conv<64, 3>, ReLU, Upsample<2>>");
  using type = skip_block<ConcatInput, ConcatJoin, Es...>;
};

// A failed shape check instantiates this with the whole sentence as its argument, so the
// compiler's first line reads: In instantiation of 'struct strata::invalid_stack<...{"MaxPool<2>
// at index 5 applied to 32x63x63: height and width must be multiples of 2..."}>'.
template <CompileText Message>
struct invalid_stack {
  static_assert(Message.empty(),
                "strata: invalid layer stack; the line above names the layer, its index and the "
                "input shape it was given");
  static constexpr bool ok = true;  // the assertion above already reported
};

// Shapes, checks and sizes of a flat list of layers applied to input dims `In`.
template <class InputShape, class List>
struct stack_info;

template <class InputShape, class... Ls>
struct stack_info<InputShape, type_list<Ls...>> {
  static constexpr std::size_t count = sizeof...(Ls);

  struct Analysis {
    std::array<Dims, count + 1> dims{};  // dims[i]: input of layer i; dims[count]: output
    CompileText first_problem{};
  };

  static constexpr Analysis analyse() {
    Analysis a{};
    a.dims[0] = InputShape::dims;
    if constexpr (count > 0) {
      constexpr Dims (*rules[])(Dims) = {&Ls::output_dims...};
      constexpr CompileText (*checks[])(Dims) = {&Ls::check...};
      constexpr CompileText (*names[])() = {&Ls::name...};
      constexpr std::size_t spans[] = {skip_span_of<Ls>()...};
      constexpr bool stacks[] = {joins_channels<Ls>()...};
      for (std::size_t i = 0; i < count; ++i) {
        const Dims d = a.dims[i];
        const CompileText problem = checks[i](d);
        if (!problem.empty() && a.first_problem.empty()) {
          a.first_problem = names[i]() + " at index " + static_cast<int>(i) + " applied to " +
                            d.c + "x" + d.h + "x" + d.w + ": " + problem;
        }
        // A skip block's input meets its output: a residual block's must have its input's shape,
        // a concatenating block's its height and width.
        const Dims in = spans[i] > 0 ? a.dims[i - spans[i]] : d;
        const bool keeps = stacks[i] ? in.h == d.h && in.w == d.w : in == d;
        if (spans[i] > 0 && a.first_problem.empty() && !keeps) {
          a.first_problem = CompileText(stacks[i] ? "Concat<...> at index " : "Residual<...> at index ") +
                            static_cast<int>(i - spans[i]) + ": its layers turn " + in.c + "x" + in.h + "x" + in.w +
                            " into " + d.c + "x" + d.h + "x" + d.w +
                            (stacks[i] ? ", but a concatenating block must keep the height and width of its input"
                                       : ", but a residual block must keep the shape of its input");
        }
        // After a bad layer, keep the last good shape so later layers add no noise.
        a.dims[i + 1] = a.first_problem.empty() ? rules[i](d) : d;
        if (stacks[i] && a.first_problem.empty()) a.dims[i + 1] = Dims{in.c + d.c, d.h, d.w};  // ConcatJoin
      }
    }
    return a;
  }

  static constexpr Analysis analysis = analyse();
  static_assert(invalid_stack<analysis.first_problem>::ok);

  static constexpr std::array<Dims, count + 1> dims = analysis.dims;

  template <class L>
  static constexpr std::size_t tensor_floats(Dims in, bool trainable) {
    std::size_t n = 0;
    const int tensors = trainable ? L::parameter_tensors : L::buffer_tensors;
    for (int t = 0; t < tensors; ++t) n += (trainable ? L::parameter(t, in) : L::buffer(t, in)).size();
    return n;
  }

  static constexpr std::array<std::size_t, count> parameter_sizes() {
    std::size_t i = 0;
    return {tensor_floats<Ls>(dims[i++], true)...};
  }
  static constexpr std::array<std::size_t, count> buffer_sizes() {
    std::size_t i = 0;
    return {tensor_floats<Ls>(dims[i++], false)...};
  }
  static constexpr std::array<double, count> flops() {
    std::size_t i = 0;
    return {Ls::forward_flops(dims[i++])...};
  }
  // Layer 0 computes no input gradient: nothing upstream needs it.
  static constexpr std::array<double, count> backward_flops() {
    std::size_t i = 0;
    return {(++i, Ls::backward_flops(dims[i - 1], i > 1))...};
  }
};

template <class Sizes>
constexpr auto sum(const Sizes& sizes) {
  typename Sizes::value_type total{};
  for (auto s : sizes) total += s;
  return total;
}

template <class... Ls>
std::array<std::string, sizeof...(Ls)> layer_names(type_list<Ls...>) {
  return {Ls::name().str()...};
}
template <class... Ls>
constexpr std::array<const char*, sizeof...(Ls)> layer_kinds(type_list<Ls...>) {
  return {Ls::kind...};
}
// Which layers are a skip block's SkipInput (their output is their input's memory).
template <class... Ls>
constexpr std::array<bool, sizeof...(Ls)> skip_inputs(type_list<Ls...>) {
  return {passes_input_on<Ls>()...};
}
// For each layer, how many layers back its SkipInput is (a skip block's join), else 0.
template <class... Ls>
constexpr std::array<std::size_t, sizeof...(Ls)> skip_spans(type_list<Ls...>) {
  return {skip_span_of<Ls>()...};
}

// 195619 -> "195,619"
inline std::string group_thousands(unsigned long long v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

inline std::string pad_right(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Keras' model.summary() as text.
template <class Net>
std::string summary_of() {
  const auto names = layer_names(typename Net::layers{});
  std::string out;
  const std::string rule(64, '=');
  out += pad_right("Layer (index)", 28) + pad_right("Output shape", 18) + "Param #\n" + rule + "\n";
  out += pad_right("Input", 28) + pad_right(Net::dims_at(0).to_string(), 18) + "0\n";
  for (std::size_t i = 0; i < Net::layer_count; ++i) {
    out += pad_right(pad_right(std::to_string(i), 4) + names[i], 28) +
           pad_right(Net::dims_at(i + 1).to_string(), 18) +
           group_thousands(Net::parameter_sizes[i]) + "\n";
  }
  out += rule + "\n";
  out += "Total params: " + group_thousands(Net::parameter_count) + "\n";
  if (Net::buffer_count > 0)
    out += "Non-trainable buffers: " + group_thousands(Net::buffer_count) + "\n";
  out += "Activation memory per sample: " + group_thousands(Net::activation_bytes_per_sample) +
         " bytes (layer outputs, float32)\n";
  return out;
}

}  // namespace detail

// A block of layers (no Input): only meaningful nested in a network.
template <class... Elements>
struct Sequential {
  using layers = detail::flatten_all<Elements...>;
};

template <std::size_t N, class... Elements>
struct Repeat {
  using layers = repeat_t<detail::flatten_all<Elements...>, N>;
};

// A network: Input<C, H, W> followed by layers and blocks.
template <int C, int H, int W, class... Elements>
struct Sequential<Input<C, H, W>, Elements...> {
  using layers = detail::flatten_all<Elements...>;
  using info = detail::stack_info<Shape<C, H, W>, layers>;

  using input_shape = Shape<C, H, W>;
  static constexpr Dims output_dims = info::dims[info::count];
  using output_shape = Shape<output_dims.c, output_dims.h, output_dims.w>;
  static constexpr std::size_t layer_count = info::count;

  // Dims of the input of layer i (i == layer_count: the network's output).
  static constexpr Dims dims_at(std::size_t i) { return info::dims[i]; }

  static constexpr std::array<std::size_t, layer_count> parameter_sizes = info::parameter_sizes();
  static constexpr std::array<std::size_t, layer_count> buffer_sizes = info::buffer_sizes();
  static constexpr std::size_t parameter_count = detail::sum(parameter_sizes);
  static constexpr std::size_t buffer_count = detail::sum(buffer_sizes);

  // Floating-point operations of one forward pass for one sample (a multiply-add counts 2).
  static constexpr std::array<double, layer_count> layer_flops = info::flops();
  static constexpr double forward_flops = detail::sum(layer_flops);
  // Forward plus backward for one sample: what one image of a training step costs.
  static constexpr double training_flops = forward_flops + detail::sum(info::backward_flops());

  // Bytes of all layer outputs for one sample in float32: what a batch costs per image (a skip
  // block's SkipInput's output is its input's memory).
  static constexpr std::size_t activation_bytes_per_sample = [] {
    constexpr std::array<bool, layer_count> passes_on = detail::skip_inputs(layers{});
    std::size_t n = 0;
    for (std::size_t i = 1; i <= layer_count; ++i)
      if (!passes_on[i - 1]) n += info::dims[i].size();
    return n * sizeof(float);
  }();

  // Keras-like table: index, layer, output shape, parameters, totals.
  static std::string summary() { return detail::summary_of<Sequential>(); }
};

}  // namespace strata
