// Tests for strata/train/trainer.hpp: the run folder, resume equivalence, early stopping.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <vector>

#include <strata/data/procedural.hpp>
#include <strata/io/weights.hpp>
#include <strata/strata.hpp>
#include <strata/train/trainer.hpp>

using namespace strata;
namespace fs = std::filesystem;

namespace {

using Tiny = Sequential<Input<3, 16, 16>, Conv<4, 3>, ReLU, MaxPool<2>, Conv<8, 3>, ReLU, Dropout<10>, Upsample<2>,
                        Conv<3, 3>, Sigmoid>;

train::TrainerConfig config(const fs::path& run, int epochs) {
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

std::vector<float> weights_of(const fs::path& file) {
  const io::SafetensorsFile f = io::read_safetensors(file);
  std::vector<float> all;
  for (const auto& t : f.tensors) {
    const auto v = f.floats(t.name);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

}  // namespace

TEST_CASE("two epochs straight equal one epoch, a resume and one more, bit for bit") {
  const fs::path root = fs::temp_directory_path() / "strata_test_trainer";
  fs::remove_all(root);
  const data::ImageSet train_set = data::procedural_images(44, 0, 16);  // 6 batches, the last of 4
  const data::ImageSet val_set = data::procedural_images(12, 1000, 16);
  std::ostringstream log;

  // An off-centre hole: the resumed run must take it from its checkpoint, not from its flags.
  const data::Hole corner{2, 3, 8, 8};
  auto straight_config = config(root / "straight", 2);
  straight_config.hole = corner;
  train::Trainer<Tiny, Cpu> straight(straight_config, train_set, val_set, log);
  const auto result = straight.run();
  CHECK(result.epochs_done == 2);

  {
    auto first_config = config(root / "resumed", 1);
    first_config.hole = corner;
    train::Trainer<Tiny, Cpu> first(first_config, train_set, val_set, log);
    first.run();
  }
  auto resumed_config = config(root / "resumed", 2);
  resumed_config.resume = true;
  resumed_config.seed = 999;  // the checkpoint's seed and hole win
  train::Trainer<Tiny, Cpu> second(resumed_config, train_set, val_set, log);
  const auto resumed = second.run();
  CHECK(resumed.history.size() == 2);
  CHECK(log.str().find("resuming") != std::string::npos);

  CHECK(weights_of(root / "straight" / "model.safetensors") == weights_of(root / "resumed" / "model.safetensors"));
  CHECK(weights_of(root / "straight" / "checkpoint.safetensors") ==
        weights_of(root / "resumed" / "checkpoint.safetensors"));
  CHECK(result.history[1].validation.loss == resumed.history[1].validation.loss);

  for (const char* file : {"summary.txt", "history.csv", "curves.png", "samples_epoch001.png", "samples_epoch002.png",
                           "model.safetensors", "best.safetensors", "checkpoint.safetensors", "checkpoint_prev.safetensors",
                           "initial.safetensors"})
    CHECK_MESSAGE(fs::exists(root / "straight" / file), file);
  fs::remove_all(root);
}

TEST_CASE("resuming checks the architecture and falls back to the previous checkpoint if the last is damaged") {
  const fs::path root = fs::temp_directory_path() / "strata_test_trainer_resume";
  fs::remove_all(root);
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  {
    train::Trainer<Tiny, Cpu> t(config(root, 2), train_set, val_set, log);
    t.run();
  }
  auto wrong = config(root, 3);
  wrong.resume = true;
  wrong.architecture = "other";
  train::Trainer<Tiny, Cpu> mismatched(wrong, train_set, val_set, log);
  CHECK_THROWS_WITH_AS(mismatched.run(), doctest::Contains("architecture 'tiny', not 'other'"), train::TrainingError);

  fs::resize_file(root / "checkpoint.safetensors", 100);  // damaged on disk after the run
  auto again = config(root, 3);
  again.resume = true;
  train::Trainer<Tiny, Cpu> recovered(again, train_set, val_set, log);
  const auto result = recovered.run();
  CHECK(log.str().find("resuming from") != std::string::npos);
  CHECK(result.history.size() == 3);  // epoch 1 from checkpoint_prev, then epochs 2 and 3
  CHECK(result.epochs_done == 3);
  fs::remove_all(root);
}

TEST_CASE("early stopping and learning-rate reduction act on the validation loss") {
  const fs::path root = fs::temp_directory_path() / "strata_test_trainer_stop";
  fs::remove_all(root);
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  auto c = config(root, 50);
  c.learning_rate = 1e-7;  // too small to improve by min_delta
  c.min_learning_rate = 1e-9;
  c.min_delta = 1.0;
  c.plateau_patience = 1;
  c.early_stopping_patience = 3;
  train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
  const auto result = t.run();
  CHECK(result.stopped_early);
  CHECK(result.epochs_done == 4);  // epoch 1 sets the best; 2, 3, 4 do not improve
  CHECK(result.history[1].learning_rate == result.history[0].learning_rate);
  CHECK(result.history[2].learning_rate == doctest::Approx(0.5 * result.history[0].learning_rate));
  CHECK(log.str().find("early stopping") != std::string::npos);
  fs::remove_all(root);
}
