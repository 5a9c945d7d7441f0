// strata/backend/cuda/conv_engines.hpp: a convolution pass on an engine of cuDNN's graph API.
//
// conv.hpp runs each pass through cuDNN's legacy API: cudnnFind* times a fixed list of
// algorithms, each of which cuDNN maps onto some of its engines. The graph API describes the pass
// as a graph of one operation and lists the engines that can run it, ranked by cuDNN's
// heuristics (mode A, as PyTorch uses; the fallback mode's where none of A's is usable), among
// them kernels no legacy algorithm reaches. With
// Context::set_graph_engines(true), each pass's search (conv.hpp) also looks at the engines
// found here and keeps whichever ran fastest, legacy algorithm or engine.
//
// Usable engines: the execution plan builds, the workspace fits the budget, and the numerical
// notes suit the precision: never inputs down-converted or sums reduced in lower precision; no
// tensor cores in strict fp32 (float tensors would be rounded to TF32); nothing non-deterministic
// when the context asks for determinism (EngineRules). Engines compiled at run time (NVRTC) are
// passed over: building one's plan takes seconds, in a first step that should take milliseconds.
//
// Operands, the same three roles in every pass (uids 'x', 'w', 'y'): x is the convolution's input
// side, w its weights, y its output side, each in the plan's layout (core/layout.hpp's
// image_strides): forward reads x and w and writes y; backward-data reads w and dy (in y's role)
// and writes dx (in x's); backward-filter reads x and dy and writes dw (in w's). Each tensor
// declares the byte alignment its pointer had when the engines were searched (at most 16, what
// vectorised kernels want); an engine runs only operands at least as aligned (accepts).
//
// Running needs a variant pack (the data pointers and the workspace). A plan serves every layer
// of its shape, so an engine keeps a pack per pointer set it ran with (per layer: a model's
// buffers never move); making one is host work only, so it may happen while a CUDA graph records.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <cudnn.h>

#include "strata/backend/cuda/check.hpp"
#include "strata/core/layout.hpp"
#include "strata/core/shape.hpp"

// Sets one attribute of a graph-API descriptor, naming the attribute if cuDNN refuses it.
#define STRATA_CUDNN_SET(descriptor, name, type, count, values) \
  ::strata::cuda::engine_detail::set_attribute((descriptor), (name), (type), (count), (values), #name)

namespace strata::cuda {

// An owning graph-API descriptor (move-only).
class BackendDescriptor {
 public:
  BackendDescriptor() = default;
  explicit BackendDescriptor(cudnnBackendDescriptorType_t type) {
    check(cudnnBackendCreateDescriptor(type, &handle_), "cudnnBackendCreateDescriptor");
  }
  ~BackendDescriptor() {
    if (handle_ != nullptr) (void)cudnnBackendDestroyDescriptor(handle_);
  }
  BackendDescriptor(BackendDescriptor&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  BackendDescriptor& operator=(BackendDescriptor&& other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return handle_; }

 private:
  cudnnBackendDescriptor_t handle_ = nullptr;
};

enum class ConvPass : unsigned char { forward, backward_data, backward_filter };

inline const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "forward";
    case ConvPass::backward_data: return "backward-data";
    case ConvPass::backward_filter: return "backward-filter";
  }
  return "?";
}

// The convolution as the graph describes it: the input cuDNN convolves (already padded by strata
// where the padding is asymmetric, conv_plan.hpp), symmetric padding, one data type.
struct EngineShape {
  int batch = 0;
  Dims input{};
  Dims output{};
  int kernel = 0;
  int stride = 1;
  int pad_h = 0;
  int pad_w = 0;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  bool channels_last = false;
};

// Which engines a precision allows (see the header comment).
struct EngineRules {
  bool tensor_cores = false;  // TF32 (float tensors) or bf16 tensor-core math
  bool deterministic = false;
};

// The largest power of two up to 16 that divides the address.
inline std::int64_t byte_alignment(const void* p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  std::int64_t a = 16;
  while (a > 1 && address % static_cast<std::uintptr_t>(a) != 0) a /= 2;
  return a;
}

// The operands' pointers in role order (x, w, y) and their alignments.
using EngineOperands = std::array<const void*, 3>;
using EngineAlignment = std::array<std::int64_t, 3>;

inline EngineAlignment alignment_of(const EngineOperands& operands) {
  return {byte_alignment(operands[0]), byte_alignment(operands[1]), byte_alignment(operands[2])};
}

namespace engine_detail {

inline void set_attribute(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                          cudnnBackendAttributeType_t type, std::int64_t count, const void* values,
                          const std::string& what) {
  check(cudnnBackendSetAttribute(d, name, type, count, values), ("cudnnBackendSetAttribute(" + what + ")").c_str());
}

constexpr std::array<std::int64_t, 3> kUids{'x', 'w', 'y'};

inline BackendDescriptor tensor(std::int64_t uid, int images, Dims d, cudnnDataType_t type, bool channels_last,
                                std::int64_t alignment) {
  BackendDescriptor t(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const std::array<std::int64_t, 4> dims{images, d.c, d.h, d.w};
  const std::array<std::int64_t, 4> strides = image_strides(d, channels_last);
  STRATA_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  STRATA_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims.data());
  STRATA_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides.data());
  STRATA_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  STRATA_CUDNN_SET(t.get(), CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  check(cudnnBackendFinalize(t.get()), "cudnnBackendFinalize(tensor)");
  return t;
}

// A cross-correlation with fp32 accumulation, as the legacy descriptors (descriptors.hpp).
inline BackendDescriptor convolution(const EngineShape& s) {
  BackendDescriptor c(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const cudnnDataType_t accumulate = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const std::int64_t spatial = 2;
  const std::array<std::int64_t, 2> dilation{1, 1};
  const std::array<std::int64_t, 2> stride{s.stride, s.stride};
  const std::array<std::int64_t, 2> padding{s.pad_h, s.pad_w};
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &accumulate);
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatial);
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, dilation.data());
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, stride.data());
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, padding.data());
  STRATA_CUDNN_SET(c.get(), CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, padding.data());
  check(cudnnBackendFinalize(c.get()), "cudnnBackendFinalize(convolution)");
  return c;
}

struct OperationAttributes {
  cudnnBackendDescriptorType_t type;
  cudnnBackendAttributeName_t x, w, y, convolution, alpha, beta;
};

inline OperationAttributes operation_attributes(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA};
    case ConvPass::backward_data:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA};
    case ConvPass::backward_filter:
      return {CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA,
              CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA};
  }
  throw std::logic_error("operation_attributes: unknown convolution pass");
}

// Why the engine's numerical notes rule it out under `rules`, or null.
inline const char* ruled_out(const std::vector<cudnnBackendNumericalNote_t>& notes, const EngineRules& rules,
                             cudnnDataType_t type) {
  for (const cudnnBackendNumericalNote_t note : notes) {
    if (note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS) return "down-converts its inputs";
    if (note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return "reduces in lower precision";
    if (note == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC && rules.deterministic) return "not deterministic";
    if (note == CUDNN_NUMERICAL_NOTE_TENSOR_CORE && !rules.tensor_cores && type == CUDNN_DATA_FLOAT)
      return "tensor cores (TF32) in fp32";
  }
  return nullptr;
}

inline std::string notes_text(const std::vector<cudnnBackendNumericalNote_t>& notes) {
  static constexpr const char* kNames[] = {"tensor cores", "down-convert", "reduced-precision reduction",
                                           "FFT",          "non-deterministic", "Winograd",
                                           "Winograd 4x4", "Winograd 6x6",      "Winograd 13x13",
                                           "strict NaN"};
  std::string text;
  for (const cudnnBackendNumericalNote_t note : notes) {
    const auto i = static_cast<std::size_t>(note);
    text += (text.empty() ? "" : ", ") + std::string(i < std::size(kNames) ? kNames[i] : "other");
  }
  return text.empty() ? "no notes" : text;
}

}  // namespace engine_detail

// A convolution pass as a graph of one operation, and the descriptors it is built from (kept
// alive with it).
struct EngineGraph {
  ConvPass pass = ConvPass::forward;
  EngineAlignment alignment{};
  BackendDescriptor x, w, y, convolution, operation, graph;
};

inline std::shared_ptr<const EngineGraph> engine_graph(cudnnHandle_t handle, const EngineShape& s, ConvPass pass,
                                                       const EngineAlignment& alignment) {
  using namespace engine_detail;
  auto g = std::make_shared<EngineGraph>();
  g->pass = pass;
  g->alignment = alignment;
  const Dims filter{s.input.c, s.kernel, s.kernel};
  g->x = tensor(kUids[0], s.batch, s.input, s.type, s.channels_last, alignment[0]);
  g->w = tensor(kUids[1], s.output.c, filter, s.type, s.channels_last, alignment[1]);
  g->y = tensor(kUids[2], s.batch, s.output, s.type, s.channels_last, alignment[2]);
  g->convolution = convolution(s);

  const OperationAttributes a = operation_attributes(pass);
  g->operation = BackendDescriptor(a.type);
  const cudnnBackendDescriptor_t x = g->x.get(), w = g->w.get(), y = g->y.get(), c = g->convolution.get();
  const float one = 1.0f, zero = 0.0f;
  const std::string of = std::string(pass_name(pass)) + " operation's ";
  const cudnnBackendDescriptor_t op = g->operation.get();
  set_attribute(op, a.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, of + (pass == ConvPass::backward_data ? "dx" : "x"));
  set_attribute(op, a.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w, of + (pass == ConvPass::backward_filter ? "dw" : "w"));
  set_attribute(op, a.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, of + (pass == ConvPass::forward ? "y" : "dy"));
  set_attribute(op, a.convolution, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c, of + "convolution");
  set_attribute(op, a.alpha, CUDNN_TYPE_FLOAT, 1, &one, of + "alpha");
  set_attribute(op, a.beta, CUDNN_TYPE_FLOAT, 1, &zero, of + "beta");
  check(cudnnBackendFinalize(op), "cudnnBackendFinalize(convolution operation)");

  g->graph = BackendDescriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  STRATA_CUDNN_SET(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  STRATA_CUDNN_SET(g->graph.get(), CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
  check(cudnnBackendFinalize(g->graph.get()), "cudnnBackendFinalize(operation graph)");
  return g;
}

// One engine's execution plan for a pass, ready to run.
class ConvEngine {
 public:
  ConvEngine(std::shared_ptr<const EngineGraph> graph, BackendDescriptor config, BackendDescriptor plan,
             std::size_t workspace_bytes, std::int64_t index)
      : graph_(std::move(graph)),
        config_(std::move(config)),
        plan_(std::move(plan)),
        workspace_bytes_(workspace_bytes),
        index_(index) {}

  std::size_t workspace_bytes() const { return workspace_bytes_; }
  std::int64_t global_index() const { return index_; }  // cuDNN's number of the engine

  // Whether the operands are as aligned as the graph declared. (Layers of one shape share a plan,
  // but not the alignment of their weights in the flat parameter buffer: conv.hpp runs the legacy
  // algorithm for a layer whose operands an engine does not accept.)
  bool accepts(const EngineOperands& operands) const {
    for (std::size_t i = 0; i < operands.size(); ++i)
      if (byte_alignment(operands[i]) < graph_->alignment[i]) return false;
    return true;
  }

  // Runs the pass on the handle's stream: operands in role order (x, w, y; header comment).
  void run(cudnnHandle_t handle, const EngineOperands& operands, void* workspace) {
    if (!accepts(operands))
      throw std::logic_error(std::string("ConvEngine::run: the operands of a ") + pass_name(graph_->pass) +
                             " convolution are less aligned than when its engine was chosen; this is a strata bug: "
                             "report the layer's shape and the GPU");
    const std::array<const void*, 4> key{operands[0], operands[1], operands[2], workspace};
    for (const Pack& p : packs_)
      if (p.pointers == key) return execute(handle, p.descriptor);
    packs_.push_back(Pack{key, variant_pack(operands, workspace)});
    execute(handle, packs_.back().descriptor);
  }

 private:
  struct Pack {
    std::array<const void*, 4> pointers;
    BackendDescriptor descriptor;
  };

  static BackendDescriptor variant_pack(const EngineOperands& operands, void* workspace) {
    BackendDescriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    std::array<void*, 3> pointers{};
    for (std::size_t i = 0; i < operands.size(); ++i) pointers[i] = const_cast<void*>(operands[i]);
    STRATA_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, engine_detail::kUids.data());
    STRATA_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, pointers.data());
    STRATA_CUDNN_SET(pack.get(), CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
    check(cudnnBackendFinalize(pack.get()), "cudnnBackendFinalize(variant pack)");
    return pack;
  }

  void execute(cudnnHandle_t handle, const BackendDescriptor& pack) const {
    check(cudnnBackendExecute(handle, plan_.get(), pack.get()), "cudnnBackendExecute");
  }

  std::shared_ptr<const EngineGraph> graph_;
  BackendDescriptor config_;
  BackendDescriptor plan_;
  std::size_t workspace_bytes_ = 0;
  std::int64_t index_ = -1;
  // One per pointer set run with: a model's buffers never move, so one per layer of the plan's
  // shape, made on its first step and kept (none is made in later steps).
  std::vector<Pack> packs_;
};

namespace engine_detail {

// The engine of heuristics result `config` as a usable ConvEngine, or null with the reason in `log`.
inline std::shared_ptr<ConvEngine> usable_engine(cudnnHandle_t handle, const std::shared_ptr<const EngineGraph>& graph,
                                                 BackendDescriptor& config, const EngineShape& shape,
                                                 const EngineRules& rules, std::size_t budget, std::string& log) {
  log += "\n    engine";  // its line, which an error thrown below ends
  BackendDescriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR);
  cudnnBackendDescriptor_t e = engine.get();
  std::int64_t n = 0;
  check(cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &e),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINECFG_ENGINE)");
  std::int64_t index = -1;
  check(cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n, &index),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINE_GLOBAL_INDEX)");
  std::vector<cudnnBackendNumericalNote_t> notes(CUDNN_NUMERICAL_NOTE_TYPE_COUNT);
  check(cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                                 static_cast<std::int64_t>(notes.size()), &n, notes.data()),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINE_NUMERICAL_NOTE)");
  notes.resize(std::min(notes.size(), static_cast<std::size_t>(n)));
  std::vector<cudnnBackendBehaviorNote_t> behavior(CUDNN_BEHAVIOR_NOTE_TYPE_COUNT);
  check(cudnnBackendGetAttribute(e, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                 static_cast<std::int64_t>(behavior.size()), &n, behavior.data()),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE)");
  behavior.resize(std::min(behavior.size(), static_cast<std::size_t>(n)));
  log += " " + std::to_string(index) + " (" + notes_text(notes) + ")";
  if (const char* why = ruled_out(notes, rules, shape.type)) {
    log += ": passed over, " + std::string(why);
    return nullptr;
  }
  // Compiled by NVRTC as its plan is built: seconds each, too dear for a first step's search.
  for (const cudnnBackendBehaviorNote_t note : behavior)
    if (note == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) {
      log += ": passed over, compiled at run time";
      return nullptr;
    }

  BackendDescriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
  const cudnnBackendDescriptor_t c = config.get();
  STRATA_CUDNN_SET(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  STRATA_CUDNN_SET(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
  const cudnnStatus_t built = cudnnBackendFinalize(plan.get());
  if (built != CUDNN_STATUS_SUCCESS) {
    log += ": no plan, " + std::string(cudnnGetErrorString(built));
    return nullptr;
  }
  std::int64_t workspace = 0;
  check(cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &n,
                                 &workspace),
        "cudnnBackendGetAttribute(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE)");
  log += ", workspace " + DeviceOutOfMemory::bytes_text(static_cast<std::size_t>(workspace));
  if (static_cast<std::size_t>(workspace) > budget) {
    log += ": passed over, over the budget";
    return nullptr;
  }
  return std::make_shared<ConvEngine>(graph, std::move(config), std::move(plan), static_cast<std::size_t>(workspace),
                                      index);
}

// Appends to `usable` the usable engines heuristics `mode` ranks for the graph, best first, until
// it holds `limit`.
inline void add_usable_engines(cudnnHandle_t handle, const std::shared_ptr<const EngineGraph>& graph,
                               cudnnBackendHeurMode_t mode, const EngineShape& shape, const EngineRules& rules,
                               std::size_t budget, std::size_t limit, std::vector<std::shared_ptr<ConvEngine>>& usable,
                               std::string& log) {
  BackendDescriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  const cudnnBackendDescriptor_t g = graph->graph.get();
  STRATA_CUDNN_SET(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &g);
  STRATA_CUDNN_SET(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
  check(cudnnBackendFinalize(heuristics.get()), "cudnnBackendFinalize(engine heuristics)");
  std::int64_t count = 0;
  check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                 &count, nullptr),
        "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINEHEUR_RESULTS)");
  std::vector<BackendDescriptor> configs;
  std::vector<cudnnBackendDescriptor_t> handles;
  for (std::int64_t i = 0; i < count; ++i) {
    configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    handles.push_back(configs.back().get());
  }
  std::int64_t returned = 0;
  if (count > 0)
    check(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                   count, &returned, handles.data()),
          "cudnnBackendGetAttribute(CUDNN_ATTR_ENGINEHEUR_RESULTS)");
  log += std::string("\n   heuristics ") + (mode == CUDNN_HEUR_MODE_A ? "A" : "fallback") + ": " +
         std::to_string(returned) + " engines";
  for (std::int64_t i = 0; i < returned && usable.size() < limit; ++i) {
    try {
      if (auto engine = usable_engine(handle, graph, configs[static_cast<std::size_t>(i)], shape, rules, budget, log))
        usable.push_back(std::move(engine));
    } catch (const DeviceError& error) {  // this engine only
      log += std::string(": passed over, ") + error.what();
    }
  }
}

}  // namespace engine_detail

// The engines cuDNN's heuristics rank for the graph, best first, up to `limit` usable ones
// (header comment): mode A's (as PyTorch), or where none of those is usable, the fallback mode's.
// Every engine looked at, and why one was passed over, goes into `log`. Engines compiled at run
// time (NVRTC) are passed over: building one takes seconds.
inline std::vector<std::shared_ptr<ConvEngine>> usable_engines(cudnnHandle_t handle,
                                                               const std::shared_ptr<const EngineGraph>& graph,
                                                               const EngineShape& shape, const EngineRules& rules,
                                                               std::size_t budget, std::size_t limit,
                                                               std::string& log) {
  std::vector<std::shared_ptr<ConvEngine>> usable;
  log += "  graph engines for the " + std::string(pass_name(graph->pass)) + " pass:";
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    try {
      engine_detail::add_usable_engines(handle, graph, mode, shape, rules, budget, limit, usable, log);
    } catch (const DeviceError& error) {  // this mode's heuristics
      log += std::string("\n   heuristics failed: ") + error.what();
    }
    if (!usable.empty()) break;
  }
  log += "\n";
  return usable;
}

}  // namespace strata::cuda

#undef STRATA_CUDNN_SET
