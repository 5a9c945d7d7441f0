// tests/support/trainer_setup.hpp: the network, configuration and run folders of the trainer
// tests (tests/train/trainer.cpp, and the CUDA trainer tests in tests/backend/cuda/parity.cu).
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include <strata/strata.hpp>
#include <strata/train/trainer.hpp>

namespace strata::testing {

// A small autoencoder with every kind of layer the trainer's state touches (dropout included).
using TrainerNet = Sequential<Input<3, 16, 16>, Conv<4, 3>, ReLU, MaxPool<2>, Conv<8, 3>, ReLU, Dropout<10>,
                              Upsample<2>, Conv<3, 3>, Sigmoid>;

// Batches of 8 on 16x16 images, a centred 8x8 hole, seed 5, 2 threads, writing to `run`.
inline train::TrainerConfig trainer_config(const std::filesystem::path& run, int epochs) {
  train::TrainerConfig c;
  c.architecture = "tiny";
  c.run_dir = run;
  c.epochs = epochs;
  c.batch = 8;
  c.seed = 5;
  c.hole = data::Hole::centred(16, 8);
  c.sample_images = 4;
  c.threads = 2;
  return c;
}

// An empty folder under the temporary directory for one test, removed again when it ends.
struct RunFolder {
  std::filesystem::path path;
  explicit RunFolder(const std::string& name) : path(std::filesystem::temp_directory_path() / name) {
    std::filesystem::remove_all(path);
  }
  ~RunFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;
};

}  // namespace strata::testing
