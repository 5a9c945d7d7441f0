// strata/train/history.hpp: one row per epoch of train and validation metrics, as CSV.
//
// history.csv in the run folder, and the same text inside each checkpoint so that a resumed run
// continues the file and its curves.
#pragma once

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/train/metrics.hpp"

namespace strata::train {

struct EpochRecord {
  int epoch = 0;
  Metrics train;
  Metrics validation;
  double learning_rate = 0.0;
  double seconds = 0.0;
};

inline const char* history_header() {
  return "epoch,train_loss,train_accuracy,train_hole_l1,train_hole_l2,train_hole_psnr,"
         "val_loss,val_accuracy,val_hole_l1,val_hole_l2,val_hole_psnr,learning_rate,seconds";
}

inline std::string history_csv(const std::vector<EpochRecord>& rows) {
  std::string out = std::string(history_header()) + "\n";
  char line[512];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.3f\n", r.epoch,
                  r.train.loss, r.train.accuracy, r.train.hole_l1, r.train.hole_l2, r.train.hole_psnr, r.validation.loss,
                  r.validation.accuracy, r.validation.hole_l1, r.validation.hole_l2, r.validation.hole_psnr,
                  r.learning_rate, r.seconds);
    out += line;
  }
  return out;
}

// Parses what history_csv wrote; throws std::runtime_error on anything else.
inline std::vector<EpochRecord> parse_history_csv(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != history_header())
    throw std::runtime_error("history: unexpected header (not written by this version of strata?)");
  std::vector<EpochRecord> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    EpochRecord r;
    const int fields = std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.train.loss,
                                   &r.train.accuracy, &r.train.hole_l1, &r.train.hole_l2, &r.train.hole_psnr,
                                   &r.validation.loss, &r.validation.accuracy, &r.validation.hole_l1,
                                   &r.validation.hole_l2, &r.validation.hole_psnr, &r.learning_rate, &r.seconds);
    if (fields != 13) throw std::runtime_error("history: malformed row '" + line.substr(0, 80) + "'");
    rows.push_back(r);
  }
  return rows;
}

}  // namespace strata::train
