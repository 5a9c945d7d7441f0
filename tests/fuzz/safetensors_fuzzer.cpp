// tests/fuzz/safetensors_fuzzer.cpp: libFuzzer target for the safetensors reader and the
// checkpoint loader (io/json.hpp, io/safetensors.hpp, io/weights.hpp, the trainer's metadata).
//
// Whatever the bytes, reading must either give a validated file or throw FormatError; loading
// a checkpoint into a model must either succeed or throw without touching the model; the
// trainer's metadata fields must parse or throw. Never a crash, an out-of-bounds read or a huge
// allocation. Built with clang by tests/fuzz/run.sh, replayed by the normal test build.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <algorithm>
#include <cstring>
#include <strata/io/weights.hpp>
#include <strata/train/history.hpp>
#include <strata/train/metrics.hpp>

#include "fuzz_net.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static strata::Model<strata::testing::FuzzNet, strata::Cpu> model(1, 1, strata::ModelOptions{.threads = 1});
  strata::io::SafetensorsFile file;
  try {
    file = strata::io::parse_safetensors(std::vector<unsigned char>(data, data + size), "fuzz input");
  } catch (const strata::io::FormatError&) {
    return 0;
  }
  for (const auto& t : file.tensors) {
    try {
      if (t.dtype == "F32") (void)file.floats(t.name);
      else if (t.dtype == "F64") (void)file.doubles(t.name);
      else if (t.dtype == "U8") (void)file.bytes_u8(t.name);
    } catch (const strata::io::FormatError&) {
    }
  }
  const std::vector<float> before(model.parameter_data().begin(), model.parameter_data().end());
  try {
    strata::io::load_checkpoint(file, model);
  } catch (const strata::io::FormatError&) {
    // All-or-nothing: a rejected file leaves the weights as they were, bit for bit (bytes, not
    // floats: an earlier input may have loaded NaNs, and NaN != NaN).
    if (std::memcmp(before.data(), model.parameter_data().data(), before.size() * sizeof(float)) != 0)
      __builtin_trap();
  }
  try {
    if (auto history = file.meta("history")) (void)strata::train::parse_history_csv(*history);
  } catch (const std::runtime_error&) {
  }
  try {
    if (auto sums = file.meta("epoch_metrics")) (void)strata::train::MetricsAccumulator::from_text(*sums);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
