// Tests for strata/io/weights.hpp: weights and checkpoints of a Model.
#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

#include <strata/io/weights.hpp>
#include <strata/strata.hpp>

using namespace strata;

namespace {
using Net = Sequential<Input<3, 8, 8>, Conv<4, 3>, BatchNorm, ReLU, Conv<3, 3>, Sigmoid>;
using Other = Sequential<Input<3, 8, 8>, Conv<5, 3>, BatchNorm, ReLU, Conv<3, 3>, Sigmoid>;
const auto folder = std::filesystem::temp_directory_path() / "strata_test_weights";

std::vector<float> values(std::span<float> s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("weights round trip through safetensors, under the model's names") {
  std::filesystem::create_directories(folder);
  Model<Net, Cpu> a(2, 1), b(2, 2);
  a.buffer_data()[0] = 0.75f;  // a running mean
  io::save_weights(folder / "w.safetensors", a);
  const io::SafetensorsFile f = io::read_safetensors(folder / "w.safetensors");
  CHECK(f.find("0.conv.weight") != nullptr);
  CHECK(f.find("1.batch_norm.running_var") != nullptr);
  CHECK(f.require("0.conv.weight").shape == std::vector<std::int64_t>{4, 3, 3, 3});
  io::load_weights(folder / "w.safetensors", b);
  CHECK(values(a.parameter_data()) == values(b.parameter_data()));
  CHECK(values(a.buffer_data()) == values(b.buffer_data()));
}

TEST_CASE("loading weights of another architecture fails naming the tensor and changes nothing") {
  std::filesystem::create_directories(folder);
  Model<Other, Cpu> other(1, 1);
  io::save_weights(folder / "other.safetensors", other);
  Model<Net, Cpu> model(1, 3);
  const auto before = values(model.parameter_data());
  CHECK_THROWS_WITH_AS(io::load_weights(folder / "other.safetensors", model),
                       doctest::Contains("tensor '0.conv.weight' has shape [5, 3, 3, 3], expected [4, 3, 3, 3]"),
                       io::FormatError);
  CHECK(values(model.parameter_data()) == before);
}

TEST_CASE("weights stored as float64 (another dtype) are refused, naming the tensor, and change nothing") {
  std::filesystem::create_directories(folder);
  Model<Net, Cpu> source(1, 1), model(1, 3);
  // The same tensors, names and shapes, but every one written as F64.
  std::vector<std::vector<double>> storage;
  std::vector<io::TensorToWrite> tensors;
  for (const auto* list : {&source.parameters(), &source.buffers()}) {
    for (const auto& t : *list) {
      storage.emplace_back(t.data, t.data + t.size);
      tensors.push_back({t.name, {t.shape.begin(), t.shape.end()}, {}, storage.back()});
    }
  }
  io::write_safetensors(folder / "f64.safetensors", tensors);
  const auto before = values(model.parameter_data());
  CHECK_THROWS_WITH_AS(io::load_weights(folder / "f64.safetensors", model),
                       doctest::Contains("tensor '0.conv.weight' has dtype F64, expected F32"), io::FormatError);
  CHECK(values(model.parameter_data()) == before);
}

TEST_CASE("a checkpoint restores weights, optimizer state and step count; a bad one is rejected") {
  std::filesystem::create_directories(folder);
  Model<Net, Cpu> a(2, 1);
  Adam adam;
  std::vector<float> x(2 * 3 * 64, 0.3f), y(x.size(), 0.6f);
  for (int i = 0; i < 3; ++i) a.train_step(x, y, 2, BinaryCrossEntropy{}, adam);
  io::save_checkpoint(folder / "c.safetensors", a, {{"note", "hello"}});

  Model<Net, Cpu> b(2, 9);
  const io::SafetensorsFile f = io::load_checkpoint(folder / "c.safetensors", b);
  CHECK(f.meta("note") == "hello");
  CHECK(b.step_count() == 3);
  CHECK(values(a.parameter_data()) == values(b.parameter_data()));
  CHECK(values(a.optimizer_state()) == values(b.optimizer_state()));
  CHECK(values(a.buffer_data()) == values(b.buffer_data()));

  // Weights alone are not a checkpoint.
  io::save_weights(folder / "w.safetensors", a);
  CHECK_THROWS_WITH_AS(io::load_checkpoint(folder / "w.safetensors", b), doctest::Contains("not a strata checkpoint"),
                       io::FormatError);
  // Truncated: rejected, model untouched.
  const auto bytes = std::filesystem::file_size(folder / "c.safetensors");
  std::filesystem::copy_file(folder / "c.safetensors", folder / "t.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::resize_file(folder / "t.safetensors", bytes - 100);
  Model<Net, Cpu> c(2, 5);
  const auto before = values(c.parameter_data());
  CHECK_THROWS_AS(io::load_checkpoint(folder / "t.safetensors", c), io::FormatError);
  CHECK(values(c.parameter_data()) == before);
  CHECK(c.step_count() == 0);
  std::filesystem::remove_all(folder);
}
