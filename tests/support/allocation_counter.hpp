// tests/support/allocation_counter.hpp: counts heap allocations made while a scope is active.
//
// allocation_counter.cpp interposes malloc and its relatives (operator new goes through malloc),
// so allocations by strata, Eigen, libstdc++ and OpenMP are all seen. Under AddressSanitizer,
// which owns malloc itself, counting is unavailable and `available` is false.
#pragma once

#include <cstddef>

namespace strata::testing {

struct AllocationCount {
  std::size_t calls = 0;
  std::size_t bytes = 0;
};

extern const bool allocation_counting_available;
void start_counting_allocations();
AllocationCount stop_counting_allocations();

}  // namespace strata::testing
