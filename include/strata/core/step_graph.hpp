// strata/core/step_graph.hpp: a training step recorded once and replayed (CUDA graphs), the
// device-independent part.
//
// A backend whose Device has `static constexpr bool step_graphs = true` (strata::Cuda) can record
// Model::train_step's whole device work (weight check, forward, loss, backward, gradient check,
// optimizer update) as one graph and replay it for later steps with the same shapes. Plain C++
// here, no device headers, so the CPU tests check it:
//   - StepGraphResult: what the recorded step leaves in device memory and the host reads back
//     after a replay (one small copy), and step_verdict(), the rule that turns it into
//     "update" or "reject, and why". The device runs step_verdict() too: the optimizer's kernel
//     skips itself when the verdict is a rejection, so a rejected step changes no weight without
//     the host waiting between backward and the update.
//   - StepGraphKey: what a recorded step depends on beyond its buffers (batch size, loss,
//     optimizer type, the backend's variant such as the precision, the loss's pixel weights).
//   - StepGraphs<Graph>: which steps run eagerly, which are recorded, which replayed. A key's
//     first step runs eagerly (it chooses the convolution algorithms, which cannot be recorded,
//     and loads every kernel); its next step is recorded; later ones replay. A failed recording
//     turns graphs off for the model, keeping the reason, and the step runs eagerly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "strata/core/elementwise.hpp"
#include "strata/core/host_device.hpp"

namespace strata {

// Why a recorded step was rejected, in the order the eager train_step checks (weights before the
// step, then the loss, then the gradients). Stored as an int in device memory.
enum class StepVerdict : int {
  accepted = 0,
  weights = 1,   // non-finite weights before the step
  loss = 2,      // non-finite loss
  gradient = 3,  // non-finite parameter gradient with a finite loss
};

// Written by the recorded step in device memory, copied to pinned host memory at its end.
// Counts are doubles because the backend's reductions sum in double.
struct StepGraphResult {
  double loss = 0.0;
  double bad_weights = 0.0;    // non-finite values among the weights before the step
  double bad_gradients = 0.0;  // non-finite values among the parameter gradients
  int verdict = 0;             // a StepVerdict
};

STRATA_HOST_DEVICE inline StepVerdict step_verdict(double loss, double bad_weights, double bad_gradients) {
  if (bad_weights != 0.0) return StepVerdict::weights;
  if (!elementwise::is_finite(loss)) return StepVerdict::loss;
  if (bad_gradients != 0.0) return StepVerdict::gradient;
  return StepVerdict::accepted;
}

// The per-step values a recorded step reads from device memory instead of its kernels'
// arguments: the host writes them (pinned memory) before each replay and the graph's first node
// copies them to the device. Only what changes between steps: dropout's seed and step count,
// the optimizer's step (hyperparameters, step count folded into Adam's bias corrections, so a
// learning-rate schedule or a restored checkpoint is picked up).
struct StepGraphValues {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
  elementwise::AdamStep adam{};
  elementwise::SgdStep sgd{};
};

// Which count of non-finite values a recorded step writes (Device::record_non_finite).
enum class StepCheck : unsigned char { weights, gradients };

struct StepGraphKey {
  int batch = 0;
  int loss = 0;                     // the loss function (LossFunction)
  const void* optimizer = nullptr;  // &type_tag<Optimizer>
  int variant = 0;                  // the backend's own setting (CUDA: the precision)
  std::uint64_t pixel_weights = 0;  // 0: none; else which upload of the loss's pixel weights

  bool operator==(const StepGraphKey&) const = default;
};

// True for a Device that records training steps as graphs (strata::Cuda); strata::Cpu does not.
template <class Device>
inline constexpr bool has_step_graphs = requires { requires Device::step_graphs; };

// True for an optimizer that says it can be recorded (strata::Adam, strata::Sgd): its per-step
// values reach the device only through Device::adam_update or sgd_update, which stage them.
// Another optimizer might pass a step-dependent value as a kernel argument, which a replay would
// repeat, so Model runs it eagerly.
template <class Optimizer>
inline constexpr bool records_in_step_graphs = requires { requires Optimizer::step_graphs; };

// A distinct address per type, for StepGraphKey::optimizer.
template <class T>
inline constexpr char type_tag = 0;

enum class StepGraphAction {
  eager,    // run the step eagerly (graphs off, or the key's first step)
  capture,  // record the step into the entry, then replay it
  replay,   // replay the entry's graph
};

// Graph: the backend's move-only handle of an instantiated graph.
template <class Graph>
class StepGraphs {
 public:
  // Shapes a model trains with are few (a batch size and the epoch's last, smaller batch); more
  // keys than this evict the oldest.
  static constexpr std::size_t capacity = 8;

  struct Entry {
    StepGraphKey key{};
    Graph graph{};
    bool captured = false;
  };

  bool enabled() const { return enabled_; }
  // Turning graphs on again forgets the reason they were turned off.
  void set_enabled(bool on) {
    enabled_ = on;
    if (on) reason_.clear();
    else entries_.clear();
  }
  // Why a recording failed and graphs were turned off; empty while they work (or were never on).
  const std::string& fallback_reason() const { return reason_; }
  void disable(std::string reason) {
    enabled_ = false;
    reason_ = std::move(reason);
    entries_.clear();
  }

  // What to do with a step of this key, and the entry to record into or replay.
  std::pair<StepGraphAction, Entry*> plan(const StepGraphKey& key) {
    if (!enabled_) return {StepGraphAction::eager, nullptr};
    Entry* e = find(key);
    if (e == nullptr) return {StepGraphAction::eager, nullptr};
    return {e->captured ? StepGraphAction::replay : StepGraphAction::capture, e};
  }

  // A step of this key completed eagerly: the next one may be recorded.
  void warmed(const StepGraphKey& key) {
    if (!enabled_ || find(key) != nullptr) return;
    if (entries_.size() == capacity) entries_.erase(entries_.begin());
    entries_.push_back(Entry{key, Graph{}, false});
  }

  // Counts for tests and benchmarks: graphs recorded and replays run since construction.
  std::uint64_t captures() const { return captures_; }
  std::uint64_t replays() const { return replays_; }
  void count_capture() { ++captures_; }
  void count_replay() { ++replays_; }
  std::size_t size() const { return entries_.size(); }

 private:
  Entry* find(const StepGraphKey& key) {
    for (Entry& e : entries_)
      if (e.key == key) return &e;
    return nullptr;
  }

  bool enabled_ = false;
  std::string reason_;
  std::vector<Entry> entries_;
  std::uint64_t captures_ = 0;
  std::uint64_t replays_ = 0;
};

}  // namespace strata
