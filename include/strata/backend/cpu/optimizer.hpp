// strata/backend/cpu/optimizer.hpp: optimizer updates over the flat parameter buffer on the CPU.
#pragma once

#include "strata/backend/cpu/parallel.hpp"
#include "strata/core/elementwise.hpp"

namespace strata::cpu {

template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, std::size_t n, const elementwise::AdamStep& s,
                 int threads) {
  for_elements(n, threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) elementwise::adam_update(params[i], grads[i], m[i], v[i], s);
  });
}

template <class T>
void sgd_update(T* params, const T* grads, T* velocity, std::size_t n, const elementwise::SgdStep& s,
                int threads) {
  for_elements(n, threads, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) elementwise::sgd_update(params[i], grads[i], velocity[i], s);
  });
}

}  // namespace strata::cpu
