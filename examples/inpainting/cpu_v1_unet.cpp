// examples/inpainting/cpu_v1_unet.cpp: the CPU trainer and predictor of one architecture (run_cpu.hpp).
#include "run_cpu.hpp"

template struct inpainting::CpuJobs<inpainting::V1UNet>;
