// strata/io/weights.hpp: a Model's weights to and from safetensors files, and its checkpoints.
//
// Weights files hold the trainable tensors and the buffers under the model's names
// ("0.conv.weight", "1.batch_norm.running_mean", ...), as PyTorch and numpy read them.
// Checkpoints add the optimizer's state ("optimizer.slot0", "optimizer.slot1") and metadata: the
// model's step count and seed (they drive dropout) and whatever the trainer records. Loading is
// all-or-nothing: every tensor is read and checked (name, dtype, shape) before the model
// changes, so a bad file leaves the model as it was. Writing is atomic (io/atomic_file.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "strata/io/safetensors.hpp"

namespace strata::io {

namespace detail {

// Host copies of a model's named tensors (parameters, then buffers), ready for encoding.
template <class M>
void collect(M& model, std::vector<std::vector<float>>& storage, std::vector<TensorToWrite>& out) {
  using Device = typename M::device;
  for (const auto* list : {&model.parameters(), &model.buffers()}) {
    for (const auto& t : *list) {
      storage.emplace_back(t.size);
      Device::copy_to_host(storage.back().data(), t.data, t.size);
      out.push_back({t.name, {t.shape.begin(), t.shape.end()}, storage.back()});
    }
  }
}

inline const char* kOptimizerSlot[2] = {"optimizer.slot0", "optimizer.slot1"};

}  // namespace detail

template <class M>
void save_weights(const std::filesystem::path& path, M& model, const std::map<std::string, std::string>& metadata = {}) {
  std::vector<std::vector<float>> storage;
  std::vector<TensorToWrite> tensors;
  storage.reserve(model.parameters().size() + model.buffers().size());
  detail::collect(model, storage, tensors);
  write_safetensors(path, tensors, metadata);
}

// Loads every parameter and buffer of `model` from `file`; extra tensors in the file are allowed
// only when `allow_extra` (a checkpoint's optimizer state, for instance).
template <class M>
void load_weights(const SafetensorsFile& file, M& model, bool allow_extra = false) {
  using Device = typename M::device;
  std::vector<std::vector<float>> values;
  std::size_t expected = 0;
  for (const auto* list : {&model.parameters(), &model.buffers()}) {
    for (const auto& t : *list) {
      const std::vector<std::int64_t> shape(t.shape.begin(), t.shape.end());
      values.push_back(file.floats(t.name, &shape));  // throws naming the tensor
      ++expected;
    }
  }
  if (!allow_extra && file.tensors.size() != expected) {
    for (const auto& t : file.tensors) {
      bool known = false;
      for (const auto* list : {&model.parameters(), &model.buffers()})
        for (const auto& m : *list) known = known || m.name == t.name;
      if (!known)
        throw FormatError(file.origin + ": tensor '" + t.name + "' does not belong to this architecture");
    }
  }
  std::size_t k = 0;
  for (const auto* list : {&model.parameters(), &model.buffers()})
    for (const auto& t : *list) Device::copy_to_device(t.data, values[k++].data(), t.size);
}

template <class M>
void load_weights(const std::filesystem::path& path, M& model) {
  load_weights(read_safetensors(path), model);
}

// A checkpoint: weights, buffers, optimizer state and the model's step count, plus `metadata`.
template <class M>
void save_checkpoint(const std::filesystem::path& path, M& model, std::map<std::string, std::string> metadata) {
  using Device = typename M::device;
  std::vector<std::vector<float>> storage;
  std::vector<TensorToWrite> tensors;
  storage.reserve(model.parameters().size() + model.buffers().size() + 2);
  detail::collect(model, storage, tensors);
  const auto state = model.optimizer_state();
  const std::size_t slot = state.size() / 2;
  for (int s = 0; s < 2; ++s) {
    storage.emplace_back(slot);
    Device::copy_to_host(storage.back().data(), state.data() + s * slot, slot);
    tensors.push_back({detail::kOptimizerSlot[s], {static_cast<std::int64_t>(slot)}, storage.back()});
  }
  metadata["format"] = "strata-checkpoint-1";
  metadata["model.step_count"] = std::to_string(model.step_count());
  metadata["model.seed"] = std::to_string(model.seed());
  write_safetensors(path, tensors, metadata);
}

// Restores what save_checkpoint wrote, from a file already read. All-or-nothing.
template <class M>
void load_checkpoint(const SafetensorsFile& file, M& model) {
  using Device = typename M::device;
  if (file.meta("format") != "strata-checkpoint-1")
    throw FormatError(file.origin + ": not a strata checkpoint (metadata 'format' is missing or unknown)");
  // strata writes a checksum into every checkpoint; without it, damage to the header would pass.
  if (!file.meta(kChecksumKey))
    throw FormatError(file.origin + ": the checkpoint has no '" + kChecksumKey + "' (damaged header?)");
  const auto state = model.optimizer_state();
  const std::vector<std::int64_t> slot_shape{static_cast<std::int64_t>(state.size() / 2)};
  std::vector<float> slots[2];
  for (int s = 0; s < 2; ++s) file.read_floats(detail::kOptimizerSlot[s], slots[s], &slot_shape);
  std::uint64_t step = 0, seed = 0;
  try {
    step = std::stoull(file.meta("model.step_count").value_or("x"));
    seed = std::stoull(file.meta("model.seed").value_or("x"));
  } catch (const std::exception&) {
    throw FormatError(file.origin + ": metadata 'model.step_count' or 'model.seed' is missing or not a number");
  }
  load_weights(file, model, /*allow_extra=*/true);  // validates before it writes
  for (int s = 0; s < 2; ++s) Device::copy_to_device(state.data() + s * slots[s].size(), slots[s].data(), slots[s].size());
  model.set_step_count(step);
  model.set_seed(seed);
}

// Reads and restores a checkpoint file; returns the file for its metadata. All-or-nothing.
template <class M>
SafetensorsFile load_checkpoint(const std::filesystem::path& path, M& model) {
  SafetensorsFile file = read_safetensors(path);
  load_checkpoint(file, model);
  return file;
}

}  // namespace strata::io
