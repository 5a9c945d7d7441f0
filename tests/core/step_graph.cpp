// Tests for strata/core/step_graph.hpp: the verdict a recorded training step computes on the
// device (the same function, compiled for the host here), and when a step runs eagerly, is
// recorded or is replayed.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include <strata/strata.hpp>

using namespace strata;

namespace {

// A stand-in for the backend's graph handle: move-only, like cuda::GraphExec.
struct FakeGraph {
  int id = 0;
  FakeGraph() = default;
  explicit FakeGraph(int i) : id(i) {}
  FakeGraph(FakeGraph&&) noexcept = default;
  FakeGraph& operator=(FakeGraph&&) noexcept = default;
  FakeGraph(const FakeGraph&) = delete;
  FakeGraph& operator=(const FakeGraph&) = delete;
};

struct GraphDevice {
  static constexpr bool step_graphs = true;
  struct Unrecordable {};  // an optimizer that does not say it can be recorded
};
struct NoGraphDevice {
  static constexpr bool step_graphs = false;
};

StepGraphKey key(int batch, std::uint64_t weights = 0) {
  return StepGraphKey{batch, static_cast<int>(LossFunction::binary_cross_entropy), &type_tag<Adam>, 0, weights};
}

}  // namespace

TEST_CASE("step_verdict checks in the eager order: weights, then the loss, then the gradients") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(step_verdict(0.69, 0.0, 0.0) == StepVerdict::accepted);
  CHECK(step_verdict(0.0, 0.0, 0.0) == StepVerdict::accepted);
  CHECK(step_verdict(0.69, 3.0, 0.0) == StepVerdict::weights);
  CHECK(step_verdict(nan, 1.0, 5.0) == StepVerdict::weights);  // bad weights come first, as in train_step
  CHECK(step_verdict(nan, 0.0, 0.0) == StepVerdict::loss);
  CHECK(step_verdict(inf, 0.0, 0.0) == StepVerdict::loss);
  CHECK(step_verdict(-inf, 0.0, 7.0) == StepVerdict::loss);
  CHECK(step_verdict(0.69, 0.0, 1.0) == StepVerdict::gradient);
  // The device stores it as an int; accepted is 0 (what the optimizer kernels test).
  CHECK(static_cast<int>(StepVerdict::accepted) == 0);
  const StepGraphResult fresh{};
  CHECK(static_cast<StepVerdict>(fresh.verdict) == StepVerdict::accepted);
}

TEST_CASE("has_step_graphs: only a Device that says so records steps (the CPU backend does not); only optimizers that say so are recorded") {
  static_assert(!has_step_graphs<Cpu>);
  static_assert(has_step_graphs<GraphDevice>);
  static_assert(!has_step_graphs<NoGraphDevice>);
  // A run-time check: GCC does not fold the comparison of two variables' addresses under ASan.
  CHECK(static_cast<const void*>(&type_tag<Adam>) != static_cast<const void*>(&type_tag<Sgd>));
  static_assert(records_in_step_graphs<Adam> && records_in_step_graphs<Sgd>);
  static_assert(!records_in_step_graphs<GraphDevice::Unrecordable>);
  CHECK(key(8) == key(8));
  CHECK_FALSE(key(8) == key(4));
  CHECK_FALSE(key(8) == key(8, 1));  // new pixel weights: a new key
  StepGraphKey sgd = key(8);
  sgd.optimizer = &type_tag<Sgd>;
  CHECK_FALSE(sgd == key(8));
}

TEST_CASE("StepGraphs: off by default; a key runs eagerly, is recorded, then replayed") {
  StepGraphs<FakeGraph> graphs;
  CHECK_FALSE(graphs.enabled());
  CHECK(graphs.plan(key(8)).first == StepGraphAction::eager);
  graphs.warmed(key(8));  // ignored while off
  CHECK(graphs.size() == 0);

  graphs.set_enabled(true);
  auto [first, none] = graphs.plan(key(8));
  CHECK(first == StepGraphAction::eager);
  CHECK(none == nullptr);
  graphs.warmed(key(8));
  graphs.warmed(key(8));  // once only
  CHECK(graphs.size() == 1);
  auto [second, entry] = graphs.plan(key(8));
  CHECK(second == StepGraphAction::capture);
  REQUIRE(entry != nullptr);
  entry->graph = FakeGraph(42);
  entry->captured = true;
  graphs.count_capture();
  auto [third, same] = graphs.plan(key(8));
  CHECK(third == StepGraphAction::replay);
  CHECK(same == entry);
  CHECK(same->graph.id == 42);
  // The epoch's smaller last batch has its own key and its own eager first step.
  CHECK(graphs.plan(key(3)).first == StepGraphAction::eager);
  CHECK(graphs.plan(key(8)).first == StepGraphAction::replay);
  CHECK(graphs.captures() == 1);
}

TEST_CASE("StepGraphs: more keys than the capacity evict the oldest") {
  StepGraphs<FakeGraph> graphs;
  graphs.set_enabled(true);
  for (int b = 1; b <= static_cast<int>(StepGraphs<FakeGraph>::capacity); ++b) graphs.warmed(key(b));
  CHECK(graphs.size() == StepGraphs<FakeGraph>::capacity);
  graphs.warmed(key(100));
  CHECK(graphs.size() == StepGraphs<FakeGraph>::capacity);
  CHECK(graphs.plan(key(1)).first == StepGraphAction::eager);  // evicted
  CHECK(graphs.plan(key(2)).first == StepGraphAction::capture);
  CHECK(graphs.plan(key(100)).first == StepGraphAction::capture);
}

TEST_CASE("StepGraphs: a failed recording turns graphs off with its reason; turning them on forgets it") {
  StepGraphs<FakeGraph> graphs;
  graphs.set_enabled(true);
  graphs.warmed(key(8));
  graphs.disable("cudaStreamEndCapture failed: cudaErrorStreamCaptureInvalidated");
  CHECK_FALSE(graphs.enabled());
  CHECK(graphs.fallback_reason().find("cudaErrorStreamCaptureInvalidated") != std::string::npos);
  CHECK(graphs.size() == 0);
  CHECK(graphs.plan(key(8)).first == StepGraphAction::eager);
  graphs.set_enabled(true);
  CHECK(graphs.fallback_reason().empty());
  CHECK(graphs.plan(key(8)).first == StepGraphAction::eager);  // warmed again before it is recorded
  graphs.set_enabled(false);
  CHECK(graphs.fallback_reason().empty());
}
