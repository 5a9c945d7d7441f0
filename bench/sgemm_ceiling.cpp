// bench/sgemm_ceiling.cpp: the float GEMM rate of the system BLAS (OpenBLAS on Debian) on large
// square matrices, for bench/cpu.sh: issue 5 quotes it as the CPU's ceiling. Built only when
// CMake finds a BLAS.
//
//   strata_sgemm_ceiling [--threads 1,2]   (prints "sgemm-ceiling,-,peak,THREADS,-,-,GFLOPS")
// The thread count goes through OPENBLAS_NUM_THREADS, so this program sets it and re-executes
// itself once per count.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "comma_list.hpp"

extern "C" void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float* a,
                            int lda, const float* b, int ldb, float beta, float* c, int ldc);

namespace {

constexpr int kRowMajor = 101, kNoTrans = 111;

double sgemm_gflops() {
  const int n = 3072;
  std::vector<float> a(static_cast<std::size_t>(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size(), 0.0f);
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {  // the first call warms up (thread start, page faults)
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(kRowMajor, kNoTrans, kNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0) best = std::min(best, s);
  }
  return 2.0 * n * n * static_cast<double>(n) / best * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* one = std::getenv("STRATA_SGEMM_THREADS")) {
    std::printf("sgemm-ceiling,-,peak,%s,-,-,%.1f\n", one, sgemm_gflops());
    return 0;
  }
  std::string threads = "1,2";
  if (argc == 3 && std::string(argv[1]) == "--threads") threads = argv[2];
  for (const std::string& count : strata::bench::comma_list(threads)) {
    std::fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
      setenv("OPENBLAS_NUM_THREADS", count.c_str(), 1);
      setenv("STRATA_SGEMM_THREADS", count.c_str(), 1);
      execv("/proc/self/exe", argv);
      _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);
  }
  return 0;
}
