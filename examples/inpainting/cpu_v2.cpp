// examples/inpainting/cpu_v2.cpp: the CPU trainer and predictor of one architecture (run_cpu.hpp).
#include "run_cpu.hpp"

template struct inpainting::CpuJobs<inpainting::V2>;
