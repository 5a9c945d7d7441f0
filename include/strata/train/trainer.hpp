// strata/train/trainer.hpp: the inpainting training loop with everything a run folder holds.
//
// Trainer<Net, Device> trains Net with Adam and binary cross-entropy to fill a hole (data/hole.hpp)
// in images: per epoch it shuffles the training set (the order is a function of seed and epoch),
// trains batch by batch while the next batch is prepared in the background, validates, and then
// writes to the run folder
//   history.csv, curves.png, samples_epochNNN.png, model.safetensors (latest weights),
//   best.safetensors (lowest validation loss), checkpoint.safetensors (+ checkpoint_prev), and
//   once, initial.safetensors (the weights before training)
// Checkpoints hold weights, optimizer state, the epoch and the batches done in it, the model's
// step count, the learning-rate and early-stopping state, the epoch's metric sums so far and the
// history, so a resumed run continues exactly where it stopped: on the CPU, a run interrupted and
// resumed any number of times ends with the same weights, bit for bit, as one that never was.
// Checkpoints are written after every epoch and, on request, every N batches or M minutes; a
// stop request (TrainerConfig::stop_requested, set by a SIGINT/SIGTERM handler) ends the run
// after the current batch with a checkpoint. Every file is written atomically; the previous
// checkpoint is kept as checkpoint_prev, and resuming takes the newest checkpoint that reads back
// whole (its data checksum included), so a crash at any moment, or one damaged file, loses at
// most the work since the checkpoint before.
// Output goes to the stream given to the constructor (the library itself never prints).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <span>
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
  int checkpoint_every = 0;             // also checkpoint every N training batches (0: after each epoch only)
  double checkpoint_minutes = 0.0;      // also checkpoint when this long has passed since the last one (0: off)
  // Asked after every batch; when it says true (a signal handler set a flag, say), the run
  // writes a checkpoint and returns with TrainingResult::interrupted.
  std::function<bool()> stop_requested;
  std::string command_line;             // recorded in summary.txt
  std::string data_description;         // recorded in summary.txt
};

struct TrainingResult {
  std::vector<EpochRecord> history;
  int epochs_done = 0;
  bool stopped_early = false;
  bool interrupted = false;             // by stop_requested; the checkpoint holds the state to resume from
  std::size_t skipped_batches = 0;      // by OnNan::skip_batch, in this call
};

class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A checkpoint that is whole but belongs to another setup (architecture, batch, hole, data):
// resuming stops with it instead of falling back to an older checkpoint of the same folder.
class RunMismatch : public TrainingError {
 public:
  using TrainingError::TrainingError;
};

// T: the model's activation scalar (bfloat16 for Model<Net, Cuda, bfloat16>: bf16 activations,
// fp32 weights; the data and checkpoints are float either way; the metrics compare the output
// with the target as the model holds it, rounded to bf16 there).
template <class Net, class Device, class T = float>
class Trainer {
 public:
  using ModelType = Model<Net, Device, T>;
  static constexpr Dims image_dims = ModelType::input_dims;

  Trainer(TrainerConfig config, const data::ImageSet& train, const data::ImageSet& validation, std::ostream& out)
      : config_(std::move(config)),
        train_(train),
        validation_(validation),
        out_(out),
        model_(config_.batch, config_.seed, ModelOptions{.threads = config_.threads}),
        train_batches_(train, config_.batch, config_.hole),
        validation_batches_(validation, config_.batch, config_.hole),
        predictions_(static_cast<std::size_t>(config_.batch) * image_dims.size()),
        output_sums_(static_cast<std::size_t>(config_.batch)) {
    static_assert(ModelType::input_dims == ModelType::output_dims && ModelType::input_dims.c == 3,
                  "the inpainting trainer needs a network whose output has the shape of its RGB input");
    if constexpr (requires(std::span<float> memory) { Device::lock_host_memory(memory); }) {
      // A GPU's copy engine reads the batches without staging copies.
      train_batches_.lock_buffers(&Device::lock_host_memory);
      validation_batches_.lock_buffers(&Device::lock_host_memory);
    }
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
      epoch_started_ = std::chrono::steady_clock::now();
      epoch_running_ = true;
      auto interrupt = [&] {
        save_checkpoint();
        out_ << "stopped on request in epoch " << epoch << " after batch " << batches_done_
             << "; checkpoint written: continue with --resume " << config_.run_dir.string() << std::endl;
        result.interrupted = true;
      };
      if (!train_epoch(epoch, result.skipped_batches)) {
        interrupt();
        break;
      }
      record.train = epoch_metrics_.result();
      const std::optional<Metrics> validation = validate(samples, epoch);
      if (!validation) {
        interrupt();
        break;
      }
      record.validation = *validation;
      record.seconds = epoch_seconds();
      history_.push_back(record);
      epochs_done_ = epoch;
      batches_done_ = 0;
      epoch_metrics_ = {};
      epoch_seconds_ = 0.0;
      epoch_running_ = false;
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
      if (epoch < config_.epochs && stop_requested()) {  // came while the epoch's files were written
        out_ << "stopped on request after epoch " << epoch << "; continue with --resume " << config_.run_dir.string()
             << std::endl;
        result.interrupted = true;
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
    order.resize(epoch_images());
    return order;
  }

  std::size_t epoch_images() const {
    if (config_.max_batches_per_epoch == 0) return train_.count();
    return std::min(train_.count(), config_.max_batches_per_epoch * static_cast<std::size_t>(config_.batch));
  }

  BinaryCrossEntropy loss() const { return BinaryCrossEntropy{hole_weights_}; }

  // Per image of the last step, its output against its target (what the metrics need), made where
  // the model runs: a GPU sends these few numbers, not the batch's output.
  std::span<const OutputSums> output_sums(int batch) {
    const std::span<OutputSums> sums(output_sums_.data(), static_cast<std::size_t>(batch));
    model_.output_sums(config_.hole.input_blank(), sums);
    return sums;
  }

  std::span<const float> host_predictions(int batch) {
    const auto out = model_.output();
    Device::copy_batch_to_host(predictions_.data(), out, model_.device_context());  // on the model's stream
    return {predictions_.data(), static_cast<std::size_t>(batch) * image_dims.size()};
  }

  // Seconds spent on the current epoch, over every run of it: what a checkpoint taken now keeps,
  // so that a run killed after a periodic checkpoint loses only the time since that checkpoint.
  double epoch_seconds() const { return epoch_seconds_ + (epoch_running_ ? seconds_since(epoch_started_) : 0.0); }

  static double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  bool stop_requested() const { return config_.stop_requested && config_.stop_requested(); }

  int batches_in(std::size_t images) const {
    return static_cast<int>((images + static_cast<std::size_t>(config_.batch) - 1) / static_cast<std::size_t>(config_.batch));
  }

  bool checkpoint_due(int batches_done) const {
    if (config_.checkpoint_every > 0 && batches_done % config_.checkpoint_every == 0) return true;
    return config_.checkpoint_minutes > 0.0 && seconds_since(last_checkpoint_) >= 60.0 * config_.checkpoint_minutes;
  }

  // The next batch of `batches` (`upcoming`, or the prefetcher's first), after taking the one after
  // it into `upcoming` when `more` and sending it to the model's device: on a GPU it crosses while
  // this one trains (Model::upload_ahead). The prefetcher keeps both valid.
  data::BatchPrefetcher::Batch next_sending_ahead(data::BatchPrefetcher& batches,
                                                  std::optional<data::BatchPrefetcher::Batch>& upcoming, bool more) {
    const data::BatchPrefetcher::Batch batch = upcoming ? *upcoming : batches.next();
    upcoming.reset();
    if (more) {
      upcoming = batches.next();
      model_.upload_ahead(upcoming->target);
    }
    return batch;
  }

  // Trains the batches of `epoch` from batches_done_ on (a resumed epoch starts where its
  // checkpoint was taken), adding to epoch_metrics_. False when a stop was requested.
  bool train_epoch(int epoch, std::size_t& skipped) {
    model_.train();
    std::vector<std::size_t> order = epoch_order(epoch);
    const int total = batches_in(order.size());
    const std::size_t done_images = std::min(order.size(), static_cast<std::size_t>(batches_done_) * config_.batch);
    order.erase(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(done_images));
    train_batches_.start(std::move(order), config_.batch);
    ProgressLine progress(out_, config_.interactive);
    progress.begin_epoch(epoch, config_.epochs, total, batches_done_);
    const std::size_t images_before = epoch_metrics_.images();
    std::optional<data::BatchPrefetcher::Batch> upcoming;
    for (int k = batches_done_; k < total; ++k) {
      const auto batch = next_sending_ahead(train_batches_, upcoming, k + 1 < total);
      try {
        // The input is the target with the hole blanked, on the device: one upload per batch.
        const float value = model_.train_step(batch.target, config_.hole.input_blank(), batch.size, loss(), adam_);
        epoch_metrics_.add(value, output_sums(batch.size), image_dims, config_.hole);
      } catch (const NonFiniteError& e) {
        const std::string where = "epoch " + std::to_string(epoch) + ", batch " + std::to_string(k + 1) + ": ";
        if (config_.on_nan == OnNan::stop || e.kind() == NonFiniteKind::weights)  // bad weights cannot be skipped
          throw TrainingError(where + e.what() + "; the last good checkpoint is in " + config_.run_dir.string());
        ++skipped;
        if (config_.interactive) out_ << '\n';
        out_ << "warning: " << where << "skipped (" << e.origin() << " not finite)" << std::endl;
      }
      batches_done_ = k + 1;
      const Metrics so_far = epoch_metrics_.result();
      progress.batch_done(k + 1, epoch_metrics_.images() - images_before, so_far.loss, so_far.accuracy);
      if (stop_requested()) return false;
      if (k + 1 < total && checkpoint_due(k + 1)) save_checkpoint();
    }
    images_per_second_ = static_cast<double>(epoch_metrics_.images() - images_before) / std::max(progress.seconds(), 1e-9);
    if (epoch_metrics_.images() == 0) throw TrainingError("epoch " + std::to_string(epoch) + ": every batch was skipped");
    return true;
  }

  // Validation loss and metrics in eval mode; writes the samples grid of this epoch. Nothing
  // when a stop was requested before it finished.
  std::optional<Metrics> validate(int samples, int epoch) {
    std::vector<std::size_t> order(validation_.count());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    validation_batches_.start(std::move(order), config_.batch);
    MetricsAccumulator metrics;
    const int total = validation_batches_.batch_count();
    std::optional<data::BatchPrefetcher::Batch> upcoming;
    for (int k = 0; k < total; ++k) {
      if (k > 0 && stop_requested()) return std::nullopt;
      const auto batch = next_sending_ahead(validation_batches_, upcoming, k + 1 < total);
      const float value = model_.evaluate(batch.target, config_.hole.input_blank(), batch.size, loss());
      metrics.add(value, output_sums(batch.size), image_dims, config_.hole);
      if (k == 0 && samples > 0) {
        const int shown = std::min(samples, batch.size);
        const std::size_t n = static_cast<std::size_t>(shown) * image_dims.size();
        char name[64];
        std::snprintf(name, sizeof name, "samples_epoch%03d.png", epoch);
        save_sample_grid(config_.run_dir / name, batch.input.first(n), host_predictions(batch.size).first(n),
                         batch.target.first(n), shown, image_dims,
                         config_.architecture + ", epoch " + std::to_string(epoch));
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
    // A new run would rotate another run's checkpoints away (and a later resume could mix them).
    if (!config_.resume)
      for (int which = 0; which < 3; ++which)
        if (fs::exists(checkpoint_path(which), ec))
          throw TrainingError(config_.run_dir.string() + " already holds a training run (" +
                              checkpoint_path(which).filename().string() + "): continue it with --resume " +
                              config_.run_dir.string() + ", or train into another folder");
    // Fail now, not after an hour of training, if nothing can be written there.
    const fs::path probe = config_.run_dir / ".write_test";
    const unsigned char byte = 0;
    try {
      io::write_file_atomically(probe, std::span<const unsigned char>(&byte, 1));
    } catch (const io::FileError& e) {
      throw TrainingError(std::string("the run folder is not writable: ") + e.what());
    }
    fs::remove(probe, ec);
    // Temporary files of writes a crash interrupted; the files they were replacing are whole.
    for (const auto& entry : fs::directory_iterator(config_.run_dir, ec))
      if (entry.path().extension() == ".tmp") fs::remove(entry.path(), ec);
    last_checkpoint_ = std::chrono::steady_clock::now();
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
            {"batches_done", std::to_string(batches_done_)},
            {"epoch_metrics", epoch_metrics_.to_text()},
            {"epoch_seconds", std::to_string(epoch_seconds())},
            {"train_images", std::to_string(train_.count())},
            {"max_batches_per_epoch", std::to_string(config_.max_batches_per_epoch)},
            {"checkpoint_sequence", std::to_string(checkpoint_sequence_ + 1)},
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

  // The new checkpoint is complete on disk (as checkpoint.safetensors.new) before the old one
  // becomes checkpoint_prev and the new one takes its name, so a crash at any moment leaves the
  // last two complete checkpoints under two of the three names; restore() picks the newest.
  // A failed write (a full disk) throws and leaves the existing checkpoints as they were.
  void save_checkpoint() {
    namespace fs = std::filesystem;
    const fs::path current = checkpoint_path(0), fresh = checkpoint_path(1), previous = checkpoint_path(2);
    try {
      io::save_checkpoint(fresh, model_, trainer_state());
    } catch (const io::FileError& e) {
      std::error_code exists_ec;
      throw TrainingError(std::string("cannot write a checkpoint: ") + e.what() +
                          (fs::exists(current, exists_ec) ? "; the previous checkpoint " + current.string() + " is intact"
                                                          : std::string("; no checkpoint was written before")));
    }
    ++checkpoint_sequence_;
    last_checkpoint_ = std::chrono::steady_clock::now();
    std::error_code ec;
    if (fs::exists(current, ec)) {
      fs::rename(current, previous, ec);
      if (ec) throw TrainingError("cannot keep the previous checkpoint " + previous.string() + ": " + ec.message());
    }
    fs::rename(fresh, current, ec);
    if (ec) throw TrainingError("cannot move " + fresh.string() + " into place: " + ec.message());
  }

  // checkpoint.safetensors, checkpoint.safetensors.new (written, not yet moved into place) and
  // checkpoint_prev.safetensors, in the order resuming prefers them when they are equally new.
  std::filesystem::path checkpoint_path(int which) const {
    static constexpr std::array<const char*, 3> names{"checkpoint.safetensors", "checkpoint.safetensors.new",
                                                      "checkpoint_prev.safetensors"};
    return config_.run_dir / names[static_cast<std::size_t>(which)];
  }

  // The checkpoint comes last: a crash before it resumes the epoch's end again and rewrites the
  // same files; a crash after it finds them all written.
  void save_epoch(bool improved) {
    const std::map<std::string, std::string> meta{{"architecture", config_.architecture},
                                                  {"epoch", std::to_string(epochs_done_)}};
    try {
      io::save_weights(config_.run_dir / "model.safetensors", model_, meta);
      if (improved) io::save_weights(config_.run_dir / "best.safetensors", model_, meta);
      const std::string csv = history_csv(history_);
      io::write_file_atomically(config_.run_dir / "history.csv",
                                std::span(reinterpret_cast<const unsigned char*>(csv.data()), csv.size()));
      save_curves(config_.run_dir / "curves.png", history_);
    } catch (const io::FileError& e) {
      std::error_code ec;
      throw TrainingError(std::string("cannot write the files of epoch ") + std::to_string(epochs_done_) + ": " +
                          e.what() +
                          (std::filesystem::exists(checkpoint_path(0), ec)
                               ? "; the last checkpoint " + checkpoint_path(0).string() + " is intact"
                               : std::string()));
    }
    save_checkpoint();
  }

  // Resumes from the newest checkpoint that reads back whole (structure, checksum, metadata, and
  // every tensor of this architecture); a damaged one is reported and the next newest is used.
  void restore() {
    namespace fs = std::filesystem;
    struct Candidate {
      fs::path path;
      std::uint64_t sequence;
    };
    std::vector<Candidate> candidates;
    std::string problems;
    auto note_problem = [&](const std::string& what) {
      out_ << "warning: " << what << std::endl;
      problems += "; " + what;
    };
    std::vector<fs::path> damaged;
    for (int which = 0; which < 3; ++which) {
      const fs::path path = checkpoint_path(which);
      std::error_code ec;
      if (!fs::exists(path, ec)) continue;
      try {
        const io::SafetensorsFile file = io::read_safetensors(path);
        const auto sequence = file.meta("checkpoint_sequence");
        if (!sequence || sequence->empty() || sequence->find_first_not_of("0123456789") != std::string::npos)
          throw io::FormatError(path.string() + ": metadata 'checkpoint_sequence' is missing or not a number");
        candidates.push_back({path, std::stoull(*sequence)});
      } catch (const std::exception& e) {
        note_problem(e.what());
        damaged.push_back(path);
      }
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.sequence > b.sequence; });
    for (const Candidate& c : candidates) {
      try {
        restore_from(c.path);
        checkpoint_sequence_ = c.sequence;
        // A damaged file would otherwise be rotated over the good older checkpoint by the next save.
        for (const fs::path& bad : damaged) {
          std::error_code ec;
          fs::rename(bad, bad.string() + ".damaged", ec);
          if (!ec) out_ << "warning: moved the damaged " << bad.filename().string() << " aside to "
                        << bad.filename().string() << ".damaged" << std::endl;
        }
        if (c.path == checkpoint_path(1)) {
          // An older, whole checkpoint.safetensors becomes the previous one; a damaged one is replaced.
          const bool current_is_older = std::any_of(candidates.begin(), candidates.end(), [&](const Candidate& o) {
            return o.path == checkpoint_path(0) && o.sequence < c.sequence;
          });
          finish_rotation(current_is_older);
        }
        out_ << "resuming " << config_.run_dir.string() << " from " << c.path.filename().string() << ": epoch "
             << epochs_done_ + 1 << ", after batch " << batches_done_ << " (training step " << model_.step_count() << ")"
             << std::endl;
        return;
      } catch (const RunMismatch&) {
        throw;  // whole, but of another setup: an older checkpoint of this folder would be too
      } catch (const std::exception& e) {
        note_problem(e.what());
        damaged.push_back(c.path);
      }
    }
    throw TrainingError("cannot resume: no usable checkpoint in " + config_.run_dir.string() +
                        (problems.empty() ? std::string(" (there is none)") : problems));
  }

  // A crash interrupted save_checkpoint after the new checkpoint was complete: do its renames.
  void finish_rotation(bool keep_current_as_previous) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (keep_current_as_previous) fs::rename(checkpoint_path(0), checkpoint_path(2), ec);
    if (!ec) fs::rename(checkpoint_path(1), checkpoint_path(0), ec);
    if (ec) throw TrainingError("cannot move " + checkpoint_path(1).string() + " into place: " + ec.message());
  }

  void restore_from(const std::filesystem::path& path) {
    const io::SafetensorsFile file = io::load_checkpoint(path, model_);
    auto get = [&](const char* key) {
      auto v = file.meta(key);
      if (!v) throw TrainingError(file.origin + ": checkpoint metadata '" + key + "' is missing");
      return *v;
    };
    if (get("architecture") != config_.architecture)
      throw RunMismatch(file.origin + ": the checkpoint is of architecture '" + get("architecture") + "', not '" +
                        config_.architecture + "'");
    try {
      // The run's own settings win over flags given on resume, so the data order and masks match.
      const int batch = std::stoi(get("batch"));
      if (batch != config_.batch)
        throw RunMismatch(file.origin + ": the run used batch " + std::to_string(batch) + "; resume it with --batch " +
                          std::to_string(batch));
      data::Hole hole;
      if (std::sscanf(get("hole").c_str(), "%d,%d,%d,%d", &hole.top, &hole.left, &hole.height, &hole.width) != 4)
        throw TrainingError(file.origin + ": malformed hole in the checkpoint");
      hole.validate(image_dims.h, image_dims.w);
      const std::size_t train_images = std::stoull(get("train_images"));
      if (train_images != train_.count())
        throw RunMismatch(file.origin + ": the run trained on " + std::to_string(train_images) +
                          " images, but the training set now holds " + std::to_string(train_.count()) +
                          "; resume with the same data");
      const std::size_t max_batches = std::stoull(get("max_batches_per_epoch"));
      if (max_batches != config_.max_batches_per_epoch)
        throw RunMismatch(file.origin + ": the run used --max-batches " + std::to_string(max_batches) +
                          "; resume it with the same");
      epochs_done_ = std::stoi(get("epoch"));
      batches_done_ = std::stoi(get("batches_done"));
      if (epochs_done_ < 0 || batches_done_ < 0 || batches_done_ > batches_in(epoch_images()))
        throw TrainingError(file.origin + ": epoch " + std::to_string(epochs_done_) + " and batch " +
                            std::to_string(batches_done_) + " do not fit this run");
      epoch_metrics_ = MetricsAccumulator::from_text(get("epoch_metrics"));
      epoch_seconds_ = std::stod(get("epoch_seconds"));
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
  std::vector<OutputSums> output_sums_;
  std::vector<float> hole_weights_;
  std::vector<EpochRecord> history_;
  int epochs_done_ = 0;
  int batches_done_ = 0;                 // training batches done in epoch epochs_done_ + 1
  MetricsAccumulator epoch_metrics_;     // of those batches
  double epoch_seconds_ = 0.0;           // spent on that epoch before the last resume
  std::chrono::steady_clock::time_point epoch_started_{};  // when this run began the current epoch
  bool epoch_running_ = false;
  std::uint64_t checkpoint_sequence_ = 0;  // checkpoints written in the run so far
  std::chrono::steady_clock::time_point last_checkpoint_{};
  double best_loss_ = 1e300;
  int epochs_since_best_ = 0;
  int plateau_wait_ = 0;
  double images_per_second_ = 0.0;
};

}  // namespace strata::train
