// Tests for strata/core/device.hpp: device errors name the call, the layer and the status; the
// Model tells its backend what it will allocate before allocating.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <strata/strata.hpp>

using namespace strata;

TEST_CASE("DeviceError says what failed, where, and what to do") {
  DeviceError e("cudnnConvolutionForward(...)", "CUDNN_STATUS_EXECUTION_FAILED", "rerun with CUDA_LAUNCH_BLOCKING=1");
  CHECK(std::string(e.what()) ==
        "cudnnConvolutionForward(...) failed: CUDNN_STATUS_EXECUTION_FAILED. rerun with CUDA_LAUNCH_BLOCKING=1");
  e.set_layer("layer 3 (Conv<64, 3>), forward");
  CHECK(std::string(e.what()) == "cudnnConvolutionForward(...) failed in layer 3 (Conv<64, 3>), forward: "
                                 "CUDNN_STATUS_EXECUTION_FAILED. rerun with CUDA_LAUNCH_BLOCKING=1");
  CHECK(e.status() == "CUDNN_STATUS_EXECUTION_FAILED");
}

TEST_CASE("DeviceOutOfMemory states the sizes; largest_batch_that_fits inverts the memory plan") {
  CHECK(DeviceOutOfMemory::bytes_text(512) == "512 bytes");
  CHECK(DeviceOutOfMemory::bytes_text(std::size_t{3} << 29) == "1.50 GiB");
  CHECK(DeviceOutOfMemory::bytes_text(std::size_t{12} << 20) == "12.00 MiB");
  const DeviceOutOfMemory oom("cudaMalloc(2.00 GiB)", std::size_t{2} << 30, std::size_t{1} << 30, "lower max_batch");
  CHECK(std::string(oom.what()) == "cudaMalloc(2.00 GiB) failed: out of memory: 2.00 GiB requested, 1.00 GiB free. "
                                   "lower max_batch");
  // 1000 bytes fixed + 100 per sample, planned for 64 samples.
  const ModelMemory m{64, {3, 8, 8}, {3, 8, 8}, 1000 + 64 * 100, 100};
  CHECK(largest_batch_that_fits(m, 1000 + 20 * 100 + 50) == 20);
  CHECK(largest_batch_that_fits(m, 900) == 0);
  CHECK(largest_batch_that_fits(m, 1'000'000) == 64);
}

namespace {

using Net = Sequential<Input<2, 4, 4>, Conv<3, 3>, ReLU, MaxPool<2>, Conv<2, 1>, Upsample<2>, Sigmoid>;

// The CPU backend with one operation failing as a device would.
struct FailingUpsample : Cpu {
  static constexpr auto upsample_forward = [](auto&&...) { throw DeviceError("upsample_kernel<<<...>>>", "cudaErrorIllegalAddress"); };
};
struct FailingMaxPoolBackward : Cpu {
  static constexpr auto max_pool_backward = [](auto&&...) { throw DeviceError("max_pool_kernel", "STATUS"); };
};

// The CPU backend recording what the Model says it will allocate.
ModelMemory g_reserved{};
struct Recording : Cpu {
  struct Context : Cpu::Context {
    void reserve(const ModelMemory& m) { g_reserved = m; }
  };
};
struct Refusing : Cpu {
  struct Context : Cpu::Context {
    void reserve(const ModelMemory& m) {
      throw DeviceOutOfMemory("Model", m.bytes, 0, "max_batch " + std::to_string(largest_batch_that_fits(m, 0)) + " fits");
    }
  };
};

}  // namespace

TEST_CASE("Model adds the failing layer's index, name and pass to a device error") {
  std::vector<float> x(2 * 32, 0.5f), y(2 * 2 * 16, 0.5f);
  Adam adam;
  Model<Net, FailingUpsample> forward_fails(2, 1);
  CHECK_THROWS_WITH_AS(forward_fails.train_step(x, y, 2, BinaryCrossEntropy{}, adam),
                       "upsample_kernel<<<...>>> failed in layer 4 (Upsample<2>), forward: cudaErrorIllegalAddress",
                       DeviceError);
  Model<Net, FailingMaxPoolBackward> backward_fails(2, 1);
  CHECK_THROWS_WITH_AS(backward_fails.train_step(x, y, 2, BinaryCrossEntropy{}, adam),
                       "max_pool_kernel failed in layer 2 (MaxPool<2>), backward: STATUS", DeviceError);
  CHECK(adam.steps == 0);
}

TEST_CASE("Model tells its backend's context what it will allocate, before allocating") {
  Model<Net, Recording> model(8, 1, ModelOptions{.threads = 1});
  CHECK(g_reserved.max_batch == 8);
  CHECK(g_reserved.input == Dims{2, 4, 4});
  CHECK(g_reserved.output == Dims{2, 4, 4});
  const std::size_t floor = sizeof(float) * (4 * Net::parameter_count + 8 * (Net::input_shape::size +
                                                                             Net::activation_bytes_per_sample / 4));
  CHECK(g_reserved.bytes >= floor);
  CHECK(g_reserved.bytes_per_sample * 8 <= g_reserved.bytes);
  CHECK(g_reserved.bytes_per_sample >= Net::activation_bytes_per_sample);
  CHECK_THROWS_AS((Model<Net, Refusing>(8, 1)), DeviceOutOfMemory);
}
