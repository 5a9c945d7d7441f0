// tests/support/allocation_counter.cpp: see allocation_counter.hpp.
#include "support/allocation_counter.hpp"

#include <atomic>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define STRATA_TEST_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STRATA_TEST_COUNT_ALLOCATIONS 0
#endif
#endif
#if !defined(STRATA_TEST_COUNT_ALLOCATIONS) && defined(__GLIBC__)
#define STRATA_TEST_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> calls{0};
std::atomic<std::size_t> bytes{0};
[[maybe_unused]] void record(std::size_t n) {  // unused where counting is off (ASan)
  if (counting.load(std::memory_order_relaxed)) {
    calls.fetch_add(1, std::memory_order_relaxed);
    bytes.fetch_add(n, std::memory_order_relaxed);
  }
}
}  // namespace

#if STRATA_TEST_COUNT_ALLOCATIONS
// glibc's own entry points, which the interposed functions forward to.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);

void* malloc(std::size_t n) {
  record(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t count, std::size_t size) {
  record(count * size);
  return __libc_calloc(count, size);
}
void* realloc(void* p, std::size_t n) {
  record(n);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) {
  record(n);
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) {
  record(n);
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) {
  record(n);
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return 12;  // ENOMEM
  *out = p;
  return 0;
}
}
#endif

namespace strata::testing {

const bool allocation_counting_available = STRATA_TEST_COUNT_ALLOCATIONS != 0;

void start_counting_allocations() {
  calls = 0;
  bytes = 0;
  counting = true;
}

AllocationCount stop_counting_allocations() {
  counting = false;
  return {calls.load(), bytes.load()};
}

}  // namespace strata::testing
