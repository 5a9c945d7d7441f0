// Tests for strata/train/trainer.hpp: the run folder, resume equivalence, early stopping.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <strata/data/procedural.hpp>
#include <strata/io/weights.hpp>
#include <strata/strata.hpp>
#include <strata/train/trainer.hpp>

#include "support/trainer_setup.hpp"

using namespace strata;
namespace fs = std::filesystem;

namespace {

using Tiny = testing::TrainerNet;
using testing::RunFolder;
using testing::trainer_config;

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
  const RunFolder folder("strata_test_trainer");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(44, 0, 16);  // 6 batches, the last of 4
  const data::ImageSet val_set = data::procedural_images(12, 1000, 16);
  std::ostringstream log;

  // An off-centre hole: the resumed run must take it from its checkpoint, not from its flags.
  const data::Hole corner{2, 3, 8, 8};
  auto straight_config = trainer_config(root / "straight", 2);
  straight_config.hole = corner;
  train::Trainer<Tiny, Cpu> straight(straight_config, train_set, val_set, log);
  const auto result = straight.run();
  CHECK(result.epochs_done == 2);

  {
    auto first_config = trainer_config(root / "resumed", 1);
    first_config.hole = corner;
    train::Trainer<Tiny, Cpu> first(first_config, train_set, val_set, log);
    first.run();
  }
  auto resumed_config = trainer_config(root / "resumed", 2);
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
}

TEST_CASE("resuming checks the architecture and falls back to the previous checkpoint if the last is damaged") {
  const RunFolder folder("strata_test_trainer_resume");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  {
    train::Trainer<Tiny, Cpu> t(trainer_config(root, 2), train_set, val_set, log);
    t.run();
  }
  auto wrong = trainer_config(root, 3);
  wrong.resume = true;
  wrong.architecture = "other";
  train::Trainer<Tiny, Cpu> mismatched(wrong, train_set, val_set, log);
  CHECK_THROWS_WITH_AS(mismatched.run(), doctest::Contains("architecture 'tiny', not 'other'"), train::TrainingError);

  fs::resize_file(root / "checkpoint.safetensors", 100);  // damaged on disk after the run
  auto again = trainer_config(root, 3);
  again.resume = true;
  train::Trainer<Tiny, Cpu> recovered(again, train_set, val_set, log);
  const auto result = recovered.run();
  CHECK(log.str().find("from checkpoint_prev.safetensors: epoch 2, after batch 0") != std::string::npos);
  CHECK(result.history.size() == 3);  // epoch 1 from checkpoint_prev, then epochs 2 and 3
  CHECK(result.epochs_done == 3);
}

TEST_CASE("early stopping and learning-rate reduction act on the validation loss") {
  const RunFolder folder("strata_test_trainer_stop");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  auto c = trainer_config(root, 50);
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
}

TEST_CASE("a run stopped on request at every kind of moment resumes to the weights of a run never stopped") {
  const RunFolder folder("strata_test_trainer_interrupt");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(44, 0, 16);  // 6 batches of 8, the last of 4
  const data::ImageSet val_set = data::procedural_images(12, 1000, 16);  // 2 validation batches
  std::ostringstream log;
  auto straight_config = trainer_config(root / "straight", 3);
  straight_config.checkpoint_every = 4;
  train::Trainer<Tiny, Cpu> straight(straight_config, train_set, val_set, log);
  const auto expected = straight.run();
  REQUIRE(expected.epochs_done == 3);

  // Each piece stops after a different number of stop checks (one per batch, one per validation
  // batch after the first, one after each epoch's files), so the stops fall mid-epoch, at the end
  // of an epoch's batches, in validation and right after an epoch.
  const std::vector<int> checks_before_stop{1, 3, 6, 2, 7, 4, 5, 1, 8, 2, 9, 3};
  std::size_t piece = 0;
  train::TrainingResult result;
  do {
    REQUIRE(piece < checks_before_stop.size());
    auto c = trainer_config(root / "interrupted", 3);
    c.checkpoint_every = 4;
    c.resume = piece > 0;
    int checks = 0;
    const int stop_at = checks_before_stop[piece++];
    c.stop_requested = [&checks, stop_at] { return ++checks >= stop_at; };
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    result = t.run();
    CHECK(result.interrupted == (result.epochs_done < 3));
  } while (result.interrupted);
  CHECK(piece > 5);
  CHECK(log.str().find("stopped on request in epoch 1 after batch 1") != std::string::npos);
  CHECK(weights_of(root / "straight" / "model.safetensors") == weights_of(root / "interrupted" / "model.safetensors"));
  CHECK(weights_of(root / "straight" / "checkpoint.safetensors") ==
        weights_of(root / "interrupted" / "checkpoint.safetensors"));
  REQUIRE(result.history.size() == 3);
  // Epochs finished before a resume come back from the history's 9 significant digits.
  for (std::size_t e = 0; e < 3; ++e) {
    CHECK(result.history[e].train.loss == doctest::Approx(expected.history[e].train.loss).epsilon(1e-8));
    CHECK(result.history[e].train.hole_psnr == doctest::Approx(expected.history[e].train.hole_psnr).epsilon(1e-8));
    CHECK(result.history[e].validation.loss == doctest::Approx(expected.history[e].validation.loss).epsilon(1e-8));
  }
}

TEST_CASE("resuming takes the newest whole checkpoint: a .new one left by a crash, or the previous one") {
  const RunFolder folder("strata_test_trainer_newest");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  {
    train::Trainer<Tiny, Cpu> t(trainer_config(root, 2), train_set, val_set, log);
    t.run();
  }
  // A crash between the two renames of a checkpoint rotation: the newest is only under .new.
  fs::rename(root / "checkpoint.safetensors", root / "checkpoint.safetensors.new");
  {
    std::ofstream(root / "checkpoint.safetensors.new.tmp") << "half a file";
    auto c = trainer_config(root, 3);
    c.resume = true;
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    const auto result = t.run();
    CHECK(log.str().find("from checkpoint.safetensors.new: epoch 3, after batch 0") != std::string::npos);
    CHECK(result.history.size() == 3);
    CHECK_FALSE(fs::exists(root / "checkpoint.safetensors.new.tmp"));  // cleaned up at start
  }
  // One flipped byte in the newest checkpoint: its checksum fails and the previous one is used.
  {
    std::fstream f(root / "checkpoint.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-40, std::ios::end);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    f.seekp(-40, std::ios::end);
    f.write(&byte, 1);
  }
  log.str("");
  auto c = trainer_config(root, 4);
  c.resume = true;
  train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
  const auto result = t.run();
  CHECK(log.str().find("does not match its checksum") != std::string::npos);
  CHECK(log.str().find("from checkpoint_prev.safetensors: epoch 3, after batch 0") != std::string::npos);
  CHECK(result.history.size() == 4);
  // The damaged file was moved aside, not rotated over the good checkpoint it was resumed from.
  CHECK(fs::exists(root / "checkpoint.safetensors.damaged"));
  CHECK(io::read_safetensors(root / "checkpoint_prev.safetensors").meta("epoch") == "3");
  CHECK(io::read_safetensors(root / "checkpoint.safetensors").meta("epoch") == "4");
}

TEST_CASE("a new run refuses a folder that holds another run's checkpoints") {
  const RunFolder folder("strata_test_trainer_occupied");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  {
    train::Trainer<Tiny, Cpu> t(trainer_config(root, 1), train_set, val_set, log);
    t.run();
  }
  const auto before = fs::last_write_time(root / "checkpoint.safetensors");
  train::Trainer<Tiny, Cpu> again(trainer_config(root, 1), train_set, val_set, log);
  CHECK_THROWS_WITH_AS(again.run(), doctest::Contains("already holds a training run (checkpoint.safetensors): continue it with --resume"),
                       train::TrainingError);
  CHECK(fs::last_write_time(root / "checkpoint.safetensors") == before);
}

TEST_CASE("a checkpoint that cannot be written (a full disk) stops the run and leaves the last one intact") {
  const RunFolder folder("strata_test_trainer_full");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  auto c = trainer_config(root, 1);
  c.sample_images = 0;
  {
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    t.run();
  }
  const auto before = weights_of(root / "checkpoint.safetensors");
  const auto size = fs::file_size(root / "checkpoint.safetensors");
  c.epochs = 2;
  c.resume = true;
  train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
  std::string message;
  {
    // The file-size limit makes a write fail with EFBIG, as a full disk fails with ENOSPC; it is
    // lifted however the run ends (a later test must be able to write).
    struct FileSizeLimit {
      rlimit saved{};
      void (*old_handler)(int) = nullptr;
      explicit FileSizeLimit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &saved);
        old_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit small = saved;
        small.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &small);
      }
      ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &saved);
        std::signal(SIGXFSZ, old_handler);
      }
    } limit(size / 2);
    try {
      t.run();
    } catch (const std::exception& e) {
      message = e.what();
    }
  }
  // The epoch's other files come first (the checkpoint is the last write of an epoch): whichever
  // write fails, the run stops saying so and the checkpoint is the one before.
  CHECK(message.find("cannot write") != std::string::npos);
  CHECK(message.find("File too large") != std::string::npos);
  CHECK(message.find("checkpoint " + (root / "checkpoint.safetensors").string() + " is intact") != std::string::npos);
  CHECK(weights_of(root / "checkpoint.safetensors") == before);
  CHECK_FALSE(fs::exists(root / "checkpoint.safetensors.new.tmp"));
}

TEST_CASE("a run folder that cannot be created or written is reported before any training") {
  const RunFolder folder("strata_test_trainer_unwritable");
  const fs::path& root = folder.path;
  fs::create_directories(root);
  std::ofstream(root / "a_file") << "x";
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  train::Trainer<Tiny, Cpu> t(trainer_config(root / "a_file" / "run", 1), train_set, val_set, log);
  CHECK_THROWS_WITH_AS(t.run(), doctest::Contains("cannot create the run folder"), train::TrainingError);
  CHECK(log.str().empty());
}

TEST_CASE("resuming refuses another batch size or data set, and a checkpoint whose header points outside the file") {
  const RunFolder folder("strata_test_trainer_mismatch");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(16, 0, 16);
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  {
    train::Trainer<Tiny, Cpu> t(trainer_config(root, 1), train_set, val_set, log);
    t.run();
  }
  fs::remove(root / "checkpoint_prev.safetensors");
  auto other_batch = trainer_config(root, 2);
  other_batch.resume = true;
  other_batch.batch = 4;
  train::Trainer<Tiny, Cpu> a(other_batch, train_set, val_set, log);
  CHECK_THROWS_WITH_AS(a.run(), doctest::Contains("the run used batch 8; resume it with --batch 8"), train::TrainingError);

  const data::ImageSet bigger = data::procedural_images(24, 0, 16);
  auto other_data = trainer_config(root, 2);
  other_data.resume = true;
  train::Trainer<Tiny, Cpu> b(other_data, bigger, val_set, log);
  CHECK_THROWS_WITH_AS(b.run(), doctest::Contains("the run trained on 16 images, but the training set now holds 24"),
                       train::TrainingError);

  // A tampered header: the last tensor's end offset moved past the end of the file.
  const auto before = fs::file_size(root / "checkpoint.safetensors");
  {
    std::fstream f(root / "checkpoint.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::string key = "\"optimizer.slot1\":{\"dtype\":\"F32\",\"shape\":[";
    const auto at = bytes.find("\"data_offsets\":[", bytes.find(key));
    REQUIRE(at != std::string::npos);
    const auto comma = bytes.find(',', at);
    bytes[comma + 1] = '9';  // the end offset now starts with a 9: far beyond the data
    f.seekp(0);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto again = trainer_config(root, 2);
  again.resume = true;
  train::Trainer<Tiny, Cpu> c(again, train_set, val_set, log);
  CHECK_THROWS_WITH_AS(c.run(), doctest::Contains("cannot resume: no usable checkpoint"), train::TrainingError);
  CHECK(log.str().find("tensor 'optimizer.slot1'") != std::string::npos);
  CHECK(fs::file_size(root / "checkpoint.safetensors") == before);  // nothing was written over it
}

TEST_CASE("a non-finite loss stops the run naming the batch, step and layer, or skips the batch; checkpoints stay good") {
  const RunFolder folder("strata_test_trainer_nan");
  const fs::path& root = folder.path;
  const data::ImageSet train_set = data::procedural_images(44, 0, 16);  // 6 batches
  const data::ImageSet val_set = data::procedural_images(8, 1000, 16);
  std::ostringstream log;
  // Adam moves every weight by about the learning rate: after one step of 1e30 the activations
  // of the second step overflow.
  {
    auto c = trainer_config(root / "stop", 1);
    c.learning_rate = 1e30;
    c.checkpoint_every = 1;
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    CHECK_THROWS_WITH_AS(t.run(), doctest::Contains("epoch 1, batch 2: the loss is not finite at training step 2"),
                         train::TrainingError);
    // The checkpoint taken after batch 1 is whole, finite, and still there.
    const io::SafetensorsFile saved = io::read_safetensors(root / "stop" / "checkpoint.safetensors");
    CHECK(saved.meta("batches_done") == "1");
    for (const float v : weights_of(root / "stop" / "checkpoint.safetensors")) REQUIRE(std::isfinite(v));
  }
  {
    auto c = trainer_config(root / "skip", 1);
    c.learning_rate = 1e30;
    c.on_nan = train::OnNan::skip_batch;
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    const auto result = t.run();
    CHECK(result.skipped_batches == 5);
    CHECK(result.epochs_done == 1);
    CHECK(log.str().find("warning: epoch 1, batch 6: skipped (the output of layer") != std::string::npos);
  }
  // A weight turned NaN from outside (the stop-request hook runs after every batch): ReLU would
  // hide it from the loss, the step refuses it, and skip-batch cannot skip it.
  {
    auto c = trainer_config(root / "poisoned", 1);
    c.on_nan = train::OnNan::skip_batch;
    train::Trainer<Tiny, Cpu>* self = nullptr;
    c.stop_requested = [&self, calls = 0]() mutable {
      if (++calls == 3) self->model().parameters()[0].data[0] = std::numeric_limits<float>::quiet_NaN();
      return false;
    };
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    self = &t;
    CHECK_THROWS_WITH_AS(t.run(),
                         doctest::Contains("epoch 1, batch 4: the weights are not finite before training step 4; "
                                           "first non-finite values: the weights 0.conv.weight (1 values)"),
                         train::TrainingError);
  }
}

TEST_CASE("a periodic checkpoint keeps the epoch's time so far, so a run killed after it loses only what followed") {
  const RunFolder folder("strata_test_trainer_epoch_time");
  const data::ImageSet train_set = data::procedural_images(44, 0, 16);  // 6 batches
  const data::ImageSet val_set = data::procedural_images(12, 1000, 16);
  std::ostringstream log;
  struct Killed {};
  auto c = trainer_config(folder.path, 1);
  c.checkpoint_every = 2;
  int checks = 0;
  // Each batch takes at least 20 ms; the run dies (an exception nobody catches in the trainer)
  // after batch 5, past the checkpoint of batch 4 and without writing another.
  c.stop_requested = [&checks] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (++checks == 5) throw Killed{};
    return false;
  };
  {
    train::Trainer<Tiny, Cpu> t(c, train_set, val_set, log);
    CHECK_THROWS_AS(t.run(), Killed);
  }
  const io::SafetensorsFile checkpoint = io::read_safetensors(folder.path / "checkpoint.safetensors");
  CHECK(checkpoint.meta("batches_done") == "4");
  CHECK(std::stod(checkpoint.meta("epoch_seconds").value_or("0")) >= 0.08);

  auto resumed = trainer_config(folder.path, 1);
  resumed.resume = true;
  train::Trainer<Tiny, Cpu> t(resumed, train_set, val_set, log);
  const train::TrainingResult result = t.run();
  REQUIRE(result.history.size() == 1);
  CHECK(result.history[0].seconds >= 0.08);  // the 4 batches before the checkpoint count
}
