// strata/backend/cpu/parallel.hpp: splitting work over the CPU backend's threads.
//
// OpenMP's persistent thread team, when the build has it; otherwise everything runs on the
// calling thread. The split is static and contiguous, so a given thread count always gives the
// same partition and the same floating-point reductions: training is reproducible.
#pragma once

#include <algorithm>
#include <cstddef>
#include <thread>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace strata::cpu {

// Threads the CPU backend uses when the user does not say.
inline int default_threads() {
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

// Calls body(begin, end, worker) over a static split of [0, count) into at most `threads`
// contiguous, non-empty ranges; `worker` indexes per-thread scratch. Returns how many workers
// ran (OpenMP may grant fewer threads than asked), so callers reduce exactly those partials.
template <class Body>
int parallel_for(int count, int threads, Body&& body) {
  if (count <= 0) return 0;
  [[maybe_unused]] const int workers = std::max(1, std::min(threads, count));  // unused without OpenMP
#if defined(_OPENMP)
  if (workers > 1) {
    int team_size = 1;
#pragma omp parallel num_threads(workers)
    {
      const int team = omp_get_num_threads();
      const int worker = omp_get_thread_num();
      if (worker == 0) team_size = team;
      const int begin = static_cast<int>(static_cast<long long>(count) * worker / team);
      const int end = static_cast<int>(static_cast<long long>(count) * (worker + 1) / team);
      body(begin, end, worker);
    }
    return team_size;
  }
#endif
  body(0, count, 0);
  return 1;
}

// Runs op(begin, end) over [0, n) in chunks of 16 Ki elements split over the threads: for
// element-wise work, where a chunk's cost is all the same.
template <class Op>
void for_elements(std::size_t n, int threads, Op&& op) {
  constexpr std::size_t chunk = std::size_t{1} << 14;
  const int chunks = static_cast<int>((n + chunk - 1) / chunk);
  parallel_for(chunks, threads, [&](int begin, int end, int) {
    op(static_cast<std::size_t>(begin) * chunk, std::min(n, static_cast<std::size_t>(end) * chunk));
  });
}

// How many workers parallel_for(count, threads, ...) uses at most.
inline int workers_for(int count, int threads) { return std::max(1, std::min(threads, count)); }

}  // namespace strata::cpu
