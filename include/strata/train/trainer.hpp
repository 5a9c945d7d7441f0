// strata/train/trainer.hpp: the inpainting training loop with everything a run folder holds.
//
// Trainer<Net, Device> trains Net with Adam and binary cross-entropy to fill a hole (data/hole.hpp)
// in images: per epoch it shuffles the training set (the order is a function of seed and epoch),
// trains batch by batch while the next batch is prepared in the background, validates, and then
// writes to the run folder
//   history.csv, curves.png, samples_epochNNN.png, model.safetensors (latest weights),
//   best.safetensors (lowest validation loss), checkpoint.safetensors (+ checkpoint_prev), and
//   once, initial.safetensors (the weights before training)
// Checkpoints hold weights, optimizer state, the epoch, the model's step count, the learning-rate
// and early-stopping state and the history, so a resumed run continues exactly where it stopped:
// on the CPU, two epochs straight equal one epoch, a resume and one more, bit for bit. Every file
// is written atomically; the previous checkpoint is kept until the new one is complete.
// Output goes to the stream given to the constructor (the library itself never prints).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/core/random.hpp"
#include "strata/data/batches.hpp"
#include "strata/data/hole.hpp"
#include "strata/data/image_set.hpp"
#include "strata/io/weights.hpp"
#include "strata/losses/binary_cross_entropy.hpp"
#include "strata/model/model.hpp"
#include "strata/optim/adam.hpp"
#include "strata/train/history.hpp"
#include "strata/train/metrics.hpp"
#include "strata/train/pictures.hpp"
#include "strata/train/progress.hpp"
#include "strata/version.hpp"

namespace strata::train {

enum class LossRegion { image, hole };  // BCE over the whole image (the 2017 setup) or the hole only
enum class OnNan { stop, skip_batch };

struct TrainerConfig {
  std::string architecture;             // recorded in the run, checked on resume
  std::filesystem::path run_dir = "runs/inpaint";
  int epochs = 10;                      // total, counting epochs done before a resume
  int batch = 64;
  double learning_rate = 1e-3;
  std::uint64_t seed = 1;
  data::Hole hole{};
  LossRegion loss_region = LossRegion::image;
  int sample_images = 8;                // rows of samples_epochNNN.png (the first validation images)
  int early_stopping_patience = 0;      // epochs without validation improvement before stopping; 0: never
  int plateau_patience = 0;             // epochs without improvement before the lr is multiplied by plateau_factor
  double plateau_factor = 0.5;
  double min_learning_rate = 1e-6;
  double min_delta = 1e-4;              // the improvement that counts (Keras' default)
  OnNan on_nan = OnNan::stop;
  bool resume = false;                  // continue from run_dir's checkpoint
  bool interactive = false;             // redraw a progress bar (stdout is a terminal)
  int threads = 0;                      // CPU threads; 0: all cores
  std::size_t max_batches_per_epoch = 0;  // 0: the whole training set
  std::string command_line;             // recorded in summary.txt
  std::string data_description;         // recorded in summary.txt
};

struct TrainingResult {
  std::vector<EpochRecord> history;
  int epochs_done = 0;
  bool stopped_early = false;
  std::size_t skipped_batches = 0;
};

class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class Net, class Device>
class Trainer {
 public:
  using ModelType = Model<Net, Device>;
  static constexpr Dims image_dims = ModelType::input_dims;

  Trainer(TrainerConfig config, const data::ImageSet& train, const data::ImageSet& validation, std::ostream& out)
      : config_(std::move(config)),
        train_(train),
        validation_(validation),
        out_(out),
        model_(config_.batch, config_.seed, ModelOptions{.threads = config_.threads}),
        train_batches_(train, config_.batch, config_.hole),
        validation_batches_(validation, config_.batch, config_.hole),
        predictions_(static_cast<std::size_t>(config_.batch) * image_dims.size()) {
    static_assert(ModelType::input_dims == ModelType::output_dims && ModelType::input_dims.c == 3,
                  "the inpainting trainer needs a network whose output has the shape of its RGB input");
    if (config_.epochs < 1) throw std::invalid_argument("epochs must be at least 1");
    if (train.count() == 0 || validation.count() == 0)
      throw std::invalid_argument("the training and validation sets must both hold images");
    if (train.side != image_dims.h || validation.side != image_dims.h || image_dims.h != image_dims.w)
      throw std::invalid_argument("images are " + std::to_string(train.side) + "x" + std::to_string(train.side) +
                                  " but the network takes " + image_dims.to_string());
    config_.hole.validate(image_dims.h, image_dims.w);
    if (config_.loss_region == LossRegion::hole) hole_weights_ = config_.hole.pixel_weights(image_dims.h, image_dims.w);
    adam_.lr = config_.learning_rate;
    best_loss_ = 1e300;
  }

  ModelType& model() { return model_; }

  TrainingResult run() {
    prepare_run_folder();
    if (config_.resume) {
      restore();
    } else {
      write_summary();
      // The starting point, so another library (bench/quality_parity.py) can start from it too.
      io::save_weights(config_.run_dir / "initial.safetensors", model_, {{"architecture", config_.architecture}});
    }
    TrainingResult result;
    result.history = history_;
    const int samples = std::min<int>(config_.sample_images, static_cast<int>(validation_.count()));

    for (int epoch = epochs_done_ + 1; epoch <= config_.epochs; ++epoch) {
      EpochRecord record;
      record.epoch = epoch;
      record.learning_rate = adam_.lr;
      const auto started = std::chrono::steady_clock::now();
      record.train = train_epoch(epoch, result.skipped_batches);
      record.validation = validate(samples, epoch);
      record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      history_.push_back(record);
      epochs_done_ = epoch;
      const bool improved = record.validation.loss < best_loss_ - config_.min_delta;
      if (improved) {
        best_loss_ = record.validation.loss;
        epochs_since_best_ = 0;
        plateau_wait_ = 0;
      } else {
        ++epochs_since_best_;
        ++plateau_wait_;
      }
      out_ << epoch_line(record) << std::endl;
      if (config_.plateau_patience > 0 && plateau_wait_ >= config_.plateau_patience && adam_.lr > config_.min_learning_rate) {
        adam_.lr = std::max(adam_.lr * config_.plateau_factor, config_.min_learning_rate);
        plateau_wait_ = 0;
        out_ << "validation loss has not improved for " << config_.plateau_patience << " epochs: learning rate now "
             << adam_.lr << std::endl;
      }
      save_epoch(improved);
      if (config_.early_stopping_patience > 0 && epochs_since_best_ >= config_.early_stopping_patience) {
        out_ << "early stopping: no validation improvement for " << epochs_since_best_ << " epochs" << std::endl;
        result.stopped_early = true;
        break;
      }
    }
    result.history = history_;
    result.epochs_done = epochs_done_;
    return result;
  }

 private:
  // The order of training images in an epoch: a Fisher-Yates shuffle seeded by (seed, epoch).
  std::vector<std::size_t> epoch_order(int epoch) const {
    std::vector<std::size_t> order =
        shuffled_indices(train_.count(), mix64(config_.seed) ^ mix64(static_cast<std::uint64_t>(epoch)));
    if (config_.max_batches_per_epoch > 0)
      order.resize(std::min(order.size(), config_.max_batches_per_epoch * static_cast<std::size_t>(config_.batch)));
    return order;
  }

  BinaryCrossEntropy loss() const { return BinaryCrossEntropy{hole_weights_}; }

  std::span<const float> host_predictions(int batch) {
    const auto out = model_.output();
    Device::copy_to_host(predictions_.data(), out.data, out.size());
    return {predictions_.data(), static_cast<std::size_t>(batch) * image_dims.size()};
  }

  Metrics train_epoch(int epoch, std::size_t& skipped) {
    model_.train();
    train_batches_.start(epoch_order(epoch), config_.batch);
    ProgressLine progress(out_, config_.interactive);
    progress.begin_epoch(epoch, config_.epochs, train_batches_.batch_count());
    MetricsAccumulator metrics;
    for (int k = 0; k < train_batches_.batch_count(); ++k) {
      const auto batch = train_batches_.next();
      float value = 0.0f;
      try {
        value = model_.train_step(batch.input, batch.target, batch.size, loss(), adam_);
      } catch (const NonFiniteLoss& e) {
        if (config_.on_nan == OnNan::stop)
          throw TrainingError(std::string("epoch ") + std::to_string(epoch) + ", batch " + std::to_string(k + 1) + ": " +
                              e.what() + "; the last good checkpoint is in " + config_.run_dir.string());
        ++skipped;
        continue;
      }
      metrics.add(value, host_predictions(batch.size), batch.target, batch.size, image_dims, config_.hole);
      const Metrics so_far = metrics.result();
      progress.batch_done(k + 1, metrics.images(), so_far.loss, so_far.accuracy);
    }
    images_per_second_ = static_cast<double>(metrics.images()) / std::max(progress.seconds(), 1e-9);
    if (metrics.images() == 0) throw TrainingError("epoch " + std::to_string(epoch) + ": every batch was skipped");
    return metrics.result();
  }

  // Validation loss and metrics in eval mode; writes the samples grid of this epoch.
  Metrics validate(int samples, int epoch) {
    std::vector<std::size_t> order(validation_.count());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    validation_batches_.start(std::move(order), config_.batch);
    MetricsAccumulator metrics;
    for (int k = 0; k < validation_batches_.batch_count(); ++k) {
      const auto batch = validation_batches_.next();
      const float value = model_.evaluate(batch.input, batch.target, batch.size, loss());
      const auto predicted = host_predictions(batch.size);
      metrics.add(value, predicted, batch.target, batch.size, image_dims, config_.hole);
      if (k == 0 && samples > 0) {
        const int shown = std::min(samples, batch.size);
        const std::size_t n = static_cast<std::size_t>(shown) * image_dims.size();
        char name[64];
        std::snprintf(name, sizeof name, "samples_epoch%03d.png", epoch);
        save_sample_grid(config_.run_dir / name, batch.input.first(n), predicted.first(n), batch.target.first(n), shown,
                         image_dims, config_.architecture + ", epoch " + std::to_string(epoch));
      }
    }
    return metrics.result();
  }

  std::string epoch_line(const EpochRecord& r) const {
    char line[512];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d - %.1f s - %.1f img/s - loss %.4f - acc %.4f - hole psnr %.2f dB - val_loss %.4f - "
                  "val_acc %.4f - val hole psnr %.2f dB (l1 %.4f) - lr %.3g",
                  r.epoch, config_.epochs, r.seconds, images_per_second_, r.train.loss, r.train.accuracy,
                  r.train.hole_psnr, r.validation.loss, r.validation.accuracy, r.validation.hole_psnr,
                  r.validation.hole_l1, r.learning_rate);
    return line;
  }

  void prepare_run_folder() {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(config_.run_dir, ec);
    if (ec) throw TrainingError("cannot create the run folder " + config_.run_dir.string() + ": " + ec.message());
    // Fail now, not after an hour of training, if nothing can be written there.
    const fs::path probe = config_.run_dir / ".write_test";
    const unsigned char byte = 0;
    io::write_file_atomically(probe, std::span<const unsigned char>(&byte, 1));
    fs::remove(probe, ec);
  }

  void write_summary() const {
    std::string text = "strata " + std::string(strata::version) + ", device " + Device::name + ", " +
                       std::to_string(model_.threads()) + " threads\n";
    text += "command: " + config_.command_line + "\n";
    text += "architecture: " + config_.architecture + "\nseed: " + std::to_string(config_.seed) +
            "\nbatch: " + std::to_string(config_.batch) + "\nlearning rate: " + std::to_string(config_.learning_rate) +
            "\nhole: " + std::to_string(config_.hole.height) + "x" + std::to_string(config_.hole.width) + " at (" +
            std::to_string(config_.hole.top) + ", " + std::to_string(config_.hole.left) + ")\nloss: binary cross-entropy over " +
            (config_.loss_region == LossRegion::hole ? "the hole" : "the whole image") + "\n";
    text += "data: " + config_.data_description + "\n\n" + Net::summary();
    io::write_file_atomically(config_.run_dir / "summary.txt",
                              std::span(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
  }

  std::map<std::string, std::string> trainer_state() const {
    char best[64];
    std::snprintf(best, sizeof best, "%.17g", best_loss_);
    char lr[64];
    std::snprintf(lr, sizeof lr, "%.17g", adam_.lr);
    return {{"architecture", config_.architecture},
            {"epoch", std::to_string(epochs_done_)},
            {"seed", std::to_string(config_.seed)},
            {"batch", std::to_string(config_.batch)},
            {"hole", std::to_string(config_.hole.top) + "," + std::to_string(config_.hole.left) + "," +
                         std::to_string(config_.hole.height) + "," + std::to_string(config_.hole.width)},
            {"loss_region", config_.loss_region == LossRegion::hole ? "hole" : "image"},
            {"adam.steps", std::to_string(adam_.steps)},
            {"adam.lr", lr},
            {"best_val_loss", best},
            {"epochs_since_best", std::to_string(epochs_since_best_)},
            {"plateau_wait", std::to_string(plateau_wait_)},
            {"history", history_csv(history_)},
            {"strata_version", strata::version}};
  }

  // The new checkpoint is complete on disk before the old one becomes checkpoint_prev, so a
  // crash or a full disk at any moment leaves at least one whole checkpoint under its usual name.
  void save_checkpoint() {
    namespace fs = std::filesystem;
    const fs::path current = config_.run_dir / "checkpoint.safetensors";
    const fs::path previous = config_.run_dir / "checkpoint_prev.safetensors";
    const fs::path fresh = config_.run_dir / "checkpoint.safetensors.new";
    io::save_checkpoint(fresh, model_, trainer_state());
    std::error_code ec;
    if (fs::exists(current, ec)) {
      fs::rename(current, previous, ec);
      if (ec) throw TrainingError("cannot keep the previous checkpoint " + previous.string() + ": " + ec.message());
    }
    fs::rename(fresh, current, ec);
    if (ec) throw TrainingError("cannot move " + fresh.string() + " into place: " + ec.message());
  }

  void save_epoch(bool improved) {
    save_checkpoint();
    const std::map<std::string, std::string> meta{{"architecture", config_.architecture},
                                                  {"epoch", std::to_string(epochs_done_)}};
    io::save_weights(config_.run_dir / "model.safetensors", model_, meta);
    if (improved) io::save_weights(config_.run_dir / "best.safetensors", model_, meta);
    const std::string csv = history_csv(history_);
    io::write_file_atomically(config_.run_dir / "history.csv",
                              std::span(reinterpret_cast<const unsigned char*>(csv.data()), csv.size()));
    save_curves(config_.run_dir / "curves.png", history_);
  }

  // Resumes from checkpoint.safetensors, or from checkpoint_prev.safetensors if the last one
  // is missing or damaged.
  void restore() {
    namespace fs = std::filesystem;
    const fs::path current = config_.run_dir / "checkpoint.safetensors";
    const fs::path previous = config_.run_dir / "checkpoint_prev.safetensors";
    try {
      restore_from(current);
    } catch (const std::exception& e) {
      if (!fs::exists(previous)) throw TrainingError(std::string("cannot resume: ") + e.what());
      out_ << "warning: " << e.what() << "; resuming from " << previous.string() << std::endl;
      try {
        restore_from(previous);
      } catch (const std::exception& e2) {
        throw TrainingError(std::string("cannot resume: ") + e.what() + "; and " + e2.what());
      }
    }
    out_ << "resuming " << config_.run_dir.string() << " after epoch " << epochs_done_ << std::endl;
  }

  void restore_from(const std::filesystem::path& path) {
    const io::SafetensorsFile file = io::load_checkpoint(path, model_);
    auto get = [&](const char* key) {
      auto v = file.meta(key);
      if (!v) throw TrainingError(file.origin + ": checkpoint metadata '" + key + "' is missing");
      return *v;
    };
    if (get("architecture") != config_.architecture)
      throw TrainingError(file.origin + ": the checkpoint is of architecture '" + get("architecture") + "', not '" +
                          config_.architecture + "'");
    try {
      // The run's own settings win over flags given on resume, so the data order and masks match.
      const int batch = std::stoi(get("batch"));
      if (batch != config_.batch)
        throw TrainingError(file.origin + ": the run used batch " + std::to_string(batch) + "; resume it with --batch " +
                            std::to_string(batch));
      data::Hole hole;
      if (std::sscanf(get("hole").c_str(), "%d,%d,%d,%d", &hole.top, &hole.left, &hole.height, &hole.width) != 4)
        throw TrainingError(file.origin + ": malformed hole in the checkpoint");
      hole.validate(image_dims.h, image_dims.w);
      epochs_done_ = std::stoi(get("epoch"));
      config_.seed = std::stoull(get("seed"));
      config_.hole = hole;
      config_.loss_region = get("loss_region") == "hole" ? LossRegion::hole : LossRegion::image;
      hole_weights_ = config_.loss_region == LossRegion::hole ? hole.pixel_weights(image_dims.h, image_dims.w)
                                                              : std::vector<float>{};
      train_batches_.set_hole(hole);
      validation_batches_.set_hole(hole);
      adam_.steps = std::stoull(get("adam.steps"));
      adam_.lr = std::stod(get("adam.lr"));
      best_loss_ = std::stod(get("best_val_loss"));
      epochs_since_best_ = std::stoi(get("epochs_since_best"));
      plateau_wait_ = std::stoi(get("plateau_wait"));
      history_ = parse_history_csv(get("history"));
    } catch (const TrainingError&) {
      throw;
    } catch (const std::exception& e) {
      throw TrainingError(file.origin + ": unreadable trainer state in the checkpoint (" + e.what() + ")");
    }
  }

  TrainerConfig config_;
  const data::ImageSet& train_;
  const data::ImageSet& validation_;
  std::ostream& out_;
  ModelType model_;
  Adam adam_{};
  data::BatchPrefetcher train_batches_;
  data::BatchPrefetcher validation_batches_;
  std::vector<float> predictions_;
  std::vector<float> hole_weights_;
  std::vector<EpochRecord> history_;
  int epochs_done_ = 0;
  double best_loss_ = 1e300;
  int epochs_since_best_ = 0;
  int plateau_wait_ = 0;
  double images_per_second_ = 0.0;
};

}  // namespace strata::train
