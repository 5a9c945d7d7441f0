// strata/core/device.hpp: what a Model and its backend share beyond the kernels.
//
// A backend may keep per-model state: the CUDA backend's stream, cuDNN handle, convolution
// algorithm cache and pinned staging buffers. The Model owns one `Device::Context`, derived from
// DeviceContext, tells it the memory it is about to allocate (ModelMemory), and hands every
// backend call a pointer to it through StepInfo. The CPU backend's context is empty.
//
// A backend reports a failed device call by throwing DeviceError (the call, its status string,
// advice); the Model adds which layer was running, so the message names the call, the layer
// and the status. Plain C++: no device headers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "strata/core/shape.hpp"

namespace strata {

// Base of every backend's per-model state; layers pass it through untouched.
struct DeviceContext {};

// What a Model will allocate, told to its backend's context before any allocation, so a backend
// can size its own buffers and refuse a batch that cannot fit with advice instead of failing
// half-way.
struct ModelMemory {
  int max_batch = 0;
  Dims input{};                      // one sample's input
  Dims output{};                     // one sample's output
  std::size_t bytes = 0;             // everything the Model allocates for max_batch
  std::size_t bytes_per_sample = 0;  // the part of `bytes` that grows with the batch, per sample
  bool bfloat16_activations = false;  // activations stored in bfloat16 (host data stays float)
};

// A failed device call. what(): "<call> failed in <layer>: <status>. <advice>".
class DeviceError : public std::runtime_error {
 public:
  DeviceError(std::string call, std::string status, std::string advice = {})
      : std::runtime_error(call), call_(std::move(call)), status_(std::move(status)), advice_(std::move(advice)) {
    compose();
  }

  const char* what() const noexcept override { return message_.c_str(); }
  const std::string& call() const { return call_; }
  const std::string& status() const { return status_; }
  const std::string& layer() const { return layer_; }
  const std::string& advice() const { return advice_; }

  // Called by Model while the exception passes through it: "layer 3 (Conv<64, 3>), forward".
  void set_layer(std::string layer) {
    layer_ = std::move(layer);
    compose();
  }

 private:
  void compose() {
    message_ = call_ + " failed";
    if (!layer_.empty()) message_ += " in " + layer_;
    message_ += ": " + status_;
    if (!advice_.empty()) message_ += ". " + advice_;
  }

  std::string call_, status_, advice_, layer_, message_;
};

// An allocation the device could not satisfy. The message says how much was asked for, how much
// was free and, when the Model's memory plan is known, the largest max_batch that would fit.
class DeviceOutOfMemory : public DeviceError {
 public:
  DeviceOutOfMemory(std::string call, std::size_t requested, std::size_t free, std::string advice)
      : DeviceError(std::move(call),
                    "out of memory: " + bytes_text(requested) + " requested, " + bytes_text(free) + " free",
                    std::move(advice)),
        requested_(requested),
        free_(free) {}

  std::size_t requested() const { return requested_; }
  std::size_t free() const { return free_; }

  // "1.50 GiB", "12.0 MiB", "512 bytes"
  static std::string bytes_text(std::size_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024.0 && unit < 4) {
      value /= 1024.0;
      ++unit;
    }
    if (unit == 0) return std::to_string(bytes) + " bytes";
    std::string digits = std::to_string(static_cast<long long>(value * 100.0 + 0.5));  // value in 1/100
    while (digits.size() < 3) digits.insert(0, "0");
    return digits.substr(0, digits.size() - 2) + "." + digits.substr(digits.size() - 2) + " " + units[unit];
  }

 private:
  std::size_t requested_, free_;
};

// The largest max_batch whose memory fits in `free` bytes (0 when not even one sample fits).
inline int largest_batch_that_fits(const ModelMemory& m, std::size_t free) {
  if (m.bytes_per_sample == 0 || m.max_batch < 1) return m.max_batch;
  const std::size_t fixed = m.bytes - m.bytes_per_sample * static_cast<std::size_t>(m.max_batch);
  if (free <= fixed) return 0;
  const std::size_t fits = (free - fixed) / m.bytes_per_sample;
  return fits > static_cast<std::size_t>(m.max_batch) ? m.max_batch : static_cast<int>(fits);
}

}  // namespace strata
