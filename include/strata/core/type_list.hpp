// strata/core/type_list.hpp: a flat list of types and its concatenation.
//
// Stacks are flattened with fold expressions over `+` in unevaluated contexts, so a stack of N
// layers costs O(N) instantiations, not one nested template per layer.
#pragma once

#include <cstddef>
#include <utility>

namespace strata {

template <class... Ts>
struct type_list {
  static constexpr std::size_t size = sizeof...(Ts);
};

// Only used inside decltype: concatenation of two lists.
template <class... A, class... B>
type_list<A..., B...> operator+(type_list<A...>, type_list<B...>);

namespace detail {
template <class List, std::size_t... I>
auto repeat_list(List, std::index_sequence<I...>) -> decltype((type_list<>{} + ... + ((void)I, List{})));
}  // namespace detail

// List repeated N times.
template <class List, std::size_t N>
using repeat_t = decltype(detail::repeat_list(List{}, std::make_index_sequence<N>{}));

}  // namespace strata
