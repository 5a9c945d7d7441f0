// strata/train/progress.hpp: the trainer's progress output, Keras-style.
//
// On a terminal one line per epoch is redrawn after every batch:
//   epoch 3/10 [=========>..........] 45/100 - loss 0.5123 - acc 0.6012 - 512.3 img/s - ETA 0:12
// Elsewhere (a log file, CI) nothing is printed until the epoch ends, then one plain line.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>

namespace strata::train {

inline bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) == 1; }

inline std::string format_duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char out[32];
  if (s >= 3600) std::snprintf(out, sizeof out, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(out, sizeof out, "%ld:%02ld", s / 60, s % 60);
  return out;
}

class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool interactive) : out_(out), interactive_(interactive) {}

  // `first`: batches done before this call (an epoch resumed from a checkpoint).
  void begin_epoch(int epoch, int epochs, int batches, int first = 0) {
    epoch_ = epoch;
    epochs_ = epochs;
    batches_ = batches;
    first_ = first;
    start_ = std::chrono::steady_clock::now();
  }

  // `done` counts from the start of the epoch; `images` only those trained since begin_epoch.
  void batch_done(int done, std::size_t images, double loss, double accuracy) {
    if (!interactive_) return;
    const double elapsed = seconds();
    const double rate = elapsed > 0 ? static_cast<double>(images) / elapsed : 0.0;
    const double eta = done > first_ ? elapsed * (batches_ - done) / (done - first_) : 0.0;
    constexpr int width = 24;
    const int filled = batches_ > 0 ? width * done / batches_ : width;
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < width) bar += '>' + std::string(static_cast<std::size_t>(width - filled - 1), '.');
    char line[256];
    std::snprintf(line, sizeof line, "\repoch %d/%d [%s] %d/%d - loss %.4f - acc %.4f - %.1f img/s - ETA %s ", epoch_,
                  epochs_, bar.c_str(), done, batches_, loss, accuracy, rate, format_duration(eta).c_str());
    out_ << line << std::flush;
  }

  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  // The epoch's summary line (replaces the bar on a terminal).
  void end_epoch(const std::string& summary) {
    if (interactive_) out_ << "\r\033[K";
    out_ << summary << std::endl;
  }

 private:
  std::ostream& out_;
  bool interactive_;
  int epoch_ = 0, epochs_ = 0, batches_ = 0, first_ = 0;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace strata::train
