// examples/inpainting: strata-inpaint, the IFT6266 inpainting experiment as a command.
//
//   strata-inpaint train --arch v1 [--data DIR] [--val DIR | --val-split F] [--epochs N] [--batch N]
//                        [--lr X] [--out RUN_DIR] [--seed N]
//                        [--device cpu|cuda [--precision fp32|tf32|bf16] [--cuda-graph on|off]
//                                           [--layout auto|nchw|nhwc] [--cudnn-engines all|legacy]
//                                           [--direct-conv timed|off|always]]
//                        [--resume RUN_DIR] ...
//   strata-inpaint predict --arch v1 --weights RUN_DIR/model.safetensors IMAGE... --out DIR
//   strata-inpaint summary --arch v1
//   strata-inpaint inspect FILE...      (a checkpoint or weights file: whole? what is in it?)
//
// Without --data it trains on built-in generated scenes. Every flag is checked up front: a bad
// value prints one line and exits with status 2. SIGINT or SIGTERM (Ctrl-C, `kill`) stops training
// after the current batch with a checkpoint and exits with 128 + the signal's number; a second
// one stops at once (every file is written atomically, so even that loses only unsaved work).
// --device cuda exists in a build with the CUDA backend (STRATA_INPAINT_CUDA): Trainer<Net, Cuda>
// lives in train_cuda.cu, which nvcc compiles, and this file stays plain C++.
#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <strata/strata.hpp>
#include <strata/train/trainer.hpp>

#include "architectures.hpp"
#include "data_sources.hpp"
#include "run_cpu.hpp"
#ifdef STRATA_INPAINT_CUDA
#include "train_cuda.hpp"
#endif

namespace fs = std::filesystem;
using namespace strata;

namespace {

using inpainting::UsageError;

// The signal that asked training to stop (0: none yet).
std::atomic<int> stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

// The first SIGINT or SIGTERM asks for a clean stop and gives both signals back their default
// action, so a second one of either kind ends the program at once (sigaction is async-signal-safe).
extern "C" void request_stop(int signal) {
  stop_signal.store(signal);
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigemptyset(&fallback.sa_mask);
  sigaction(SIGINT, &fallback, nullptr);
  sigaction(SIGTERM, &fallback, nullptr);
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

struct TrainOptions {
  std::string arch = "v1";
  inpainting::DataOptions data;  // --data, --val, --val-split, --cache-dir, --builtin-*
  int epochs = 4;
  int batch = 64;
  double lr = 1e-3;
  std::string out = "runs/inpaint";
  std::uint64_t seed = 1;
  std::string device = "cpu";
  std::string precision;  // cuda only: fp32 (default), tf32 or bf16
  std::string cuda_graph;  // cuda only: on (default) or off
  std::string layout;      // cuda only: auto (default), nchw or nhwc
  std::string cudnn_engines;  // cuda only: all (default) or legacy
  std::string direct_conv;    // cuda only: timed (default), off or always
  int threads = 0;
  std::string resume;
  int hole = 32;
  std::vector<int> hole_at;  // top, left; empty: centred
  std::string loss_region = "image";
  int patience = 0;
  int plateau_patience = 0;
  int samples = 8;
  std::size_t max_batches = 0;
  std::string on_nan = "stop";
  int checkpoint_every = 0;
  double checkpoint_minutes = 10.0;
};

struct PredictOptions {
  std::string arch = "v1";
  std::string weights;
  std::vector<std::string> images;
  std::string out = "inpainted";
  int hole = 32;
};

std::string joined_command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// --layout auto: channels last for tf32 and bf16, whose tensor-core convolutions cuDNN runs fastest
// in that layout; channels first for fp32, whose NCHW algorithms win (v1 on an H200: fp32 NCHW 1.5x
// NHWC's speed, tf32 and bf16 NHWC 1.2x to 1.6x NCHW's, with graphs; bench/RESULTS.md, 2026-11-30).
bool channels_last_for(const std::string& layout, const std::string& precision) {
  if (layout == "auto" || layout.empty()) return precision == "tf32" || precision == "bf16";
  return layout == "nhwc";
}

int run_training(TrainOptions o, const std::string& command_line) {
#ifdef STRATA_INPAINT_CUDA
  if (o.device != "cpu" && o.device != "cuda")
    throw UsageError("--device " + o.device + ": choose cpu or cuda");
#else
  if (o.device != "cpu")
    throw UsageError("--device " + o.device + ": only 'cpu' is available in this build");
#endif
  if (!o.precision.empty() && o.device != "cuda")
    throw UsageError("--precision " + o.precision + ": only for --device cuda (the CPU computes in fp32)");
  if (!o.cuda_graph.empty() && o.device != "cuda")
    throw UsageError("--cuda-graph " + o.cuda_graph + ": only for --device cuda");
  if (!o.layout.empty() && o.device != "cuda")
    throw UsageError("--layout " + o.layout + ": only for --device cuda (the CPU keeps NCHW)");
  if (!o.cudnn_engines.empty() && o.device != "cuda")
    throw UsageError("--cudnn-engines " + o.cudnn_engines + ": only for --device cuda");
  if (!o.direct_conv.empty() && o.device != "cuda")
    throw UsageError("--direct-conv " + o.direct_conv + ": only for --device cuda");
#ifdef STRATA_INPAINT_CUDA
  if (o.device == "cuda") inpainting::require_cuda_device();
#endif
  if (!o.resume.empty()) o.seed = inpainting::seed_of_run(o.resume);
  std::string description;
  auto [train_set, validation_set] = inpainting::load_data(o.data, o.seed, description);
  train::TrainerConfig config;
  config.architecture = o.arch;
  config.run_dir = o.resume.empty() ? fs::path(o.out) : fs::path(o.resume);
  config.resume = !o.resume.empty();
  config.epochs = o.epochs;
  config.batch = o.batch;
  config.learning_rate = o.lr;
  config.seed = o.seed;
  config.hole = data::Hole::centred(64, o.hole);
  if (o.hole_at.size() == 2) config.hole = data::Hole{o.hole_at[0], o.hole_at[1], o.hole, o.hole};
  config.loss_region = o.loss_region == "hole" ? train::LossRegion::hole : train::LossRegion::image;
  config.sample_images = o.samples;
  config.early_stopping_patience = o.patience;
  config.plateau_patience = o.plateau_patience;
  config.on_nan = o.on_nan == "skip-batch" ? train::OnNan::skip_batch : train::OnNan::stop;
  config.interactive = train::stdout_is_terminal();
  config.threads = o.threads;
  config.max_batches_per_epoch = o.max_batches;
  config.checkpoint_every = o.checkpoint_every;
  config.checkpoint_minutes = o.checkpoint_minutes;
  config.stop_requested = [] { return stop_signal.load() != 0; };
  config.command_line = command_line;
  config.data_description = description;
  std::cout << "data: " << description << std::endl;

  train::TrainingResult result;
#ifdef STRATA_INPAINT_CUDA
  if (o.device == "cuda") {
    const inpainting::CudaSettings gpu{.precision = o.precision.empty() ? "fp32" : o.precision,
                                       .graphs = o.cuda_graph != "off",
                                       .channels_last = channels_last_for(o.layout, o.precision),
                                       .graph_engines = o.cudnn_engines != "legacy",
                                       .direct_convolutions = o.direct_conv.empty() ? "timed" : o.direct_conv};
    result = inpainting::train_on_cuda(o.arch, config, train_set, validation_set, std::cout, gpu,
                                       install_stop_handlers);
  }
#endif
  if (o.device == "cpu") {
    const bool known = inpainting::Architectures::visit_entry(o.arch, [&]<class Entry>() {
      result = inpainting::CpuJobs<Entry>::train(config, train_set, validation_set, std::cout, install_stop_handlers);
    });
    if (!known) throw UsageError("--arch " + o.arch + ": unknown; choose one of " + inpainting::Architectures::names());
  }
  if (result.interrupted) return 128 + stop_signal.load();
  const auto& last = result.history.back();
  std::printf("done: %d epochs, validation hole PSNR %.2f dB\n", result.epochs_done, last.validation.hole_psnr);
  std::printf("pictures: %s (curves.png, samples_epoch%03d.png); weights: %s\n", config.run_dir.string().c_str(),
              last.epoch, (config.run_dir / "model.safetensors").string().c_str());
  return 0;
}

int run_prediction(const PredictOptions& o) {
  const inpainting::PredictJob job{o.weights, o.images, o.out, o.hole};
  int written = 0;
  const bool known = inpainting::Architectures::visit_entry(o.arch, [&]<class Entry>() {
    written = inpainting::CpuJobs<Entry>::predict(job, std::cout, std::cerr);
  });
  if (!known) throw UsageError("--arch " + o.arch + ": unknown; choose one of " + inpainting::Architectures::names());
  // Every image skipped: say so in the exit status too.
  return written > 0 ? 0 : 1;
}

void check_train_options(const TrainOptions& o) {
  if (!inpainting::Architectures::visit(o.arch, []<class>() {}))
    throw UsageError("--arch " + o.arch + ": unknown; choose one of " + inpainting::Architectures::names());
  if (o.hole < 1 || o.hole > 64) throw UsageError("--hole " + std::to_string(o.hole) + ": must be in 1..64");
  if (!o.hole_at.empty()) {
    if (o.hole_at.size() != 2 || o.hole_at[0] < 0 || o.hole_at[1] < 0 || o.hole_at[0] + o.hole > 64 ||
        o.hole_at[1] + o.hole > 64)
      throw UsageError("--hole-at: give TOP,LEFT so that the " + std::to_string(o.hole) + "x" + std::to_string(o.hole) +
                       " hole fits in the 64x64 image");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-inpaint: fill in the blanked centre of 64x64 photos with convolutional autoencoders"};
  app.require_subcommand(1);
  const std::string arch_help = "architecture: " + inpainting::Architectures::names();

  TrainOptions t;
  auto* train_cmd = app.add_subcommand("train", "train an autoencoder and write its run folder");
  train_cmd->add_option("--arch", t.arch, arch_help)->capture_default_str();
  train_cmd->add_option("--data", t.data.data_dir, "folder of JPEG/PNG images, searched recursively (default: built-in scenes)")
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("--val", t.data.val_dir, "folder of validation images (default: --val-split of --data)")
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("--val-split", t.data.val_split, "fraction of --data held out for validation")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  train_cmd->add_option("--epochs", t.epochs, "epochs in total (a resumed run continues to this count)")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  train_cmd->add_option("--batch", t.batch, "batch size")->check(CLI::Range(1, 4096))->capture_default_str();
  train_cmd->add_option("--lr", t.lr, "Adam learning rate")->check(CLI::Range(1e-8, 10.0))->capture_default_str();
  train_cmd->add_option("--out", t.out, "run folder")->capture_default_str();
  train_cmd->add_option("--seed", t.seed, "seed of the weights, the shuffling and the split")->capture_default_str();
#ifdef STRATA_INPAINT_CUDA
  train_cmd->add_option("--device", t.device, "cpu, or cuda (the current NVIDIA GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
#else
  // Named apart from other bad values: the option exists, this build lacks the backend.
  const CLI::Validator no_cuda(
      [](std::string& value) -> std::string {
        return value == "cuda" ? "cuda: this strata-inpaint was built without the CUDA backend (configure where "
                                 "nvcc and cuDNN 9 are found; see docs/cuda-backend.md)"
                               : "";
      },
      "");
  train_cmd->add_option("--device", t.device, "cpu (this build has no CUDA backend)")
      ->check(no_cuda)->check(CLI::IsMember({"cpu"}))->capture_default_str();
#endif
  train_cmd->add_option("--precision", t.precision, "with --device cuda: fp32 (default), tf32 (tensor-core convolutions, about 1e-2 relative) or bf16 (bf16 activations with fp32 master weights, about 3e-2 relative)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  train_cmd->add_option("--cuda-graph", t.cuda_graph, "with --device cuda: on (default: record each training step once as a CUDA graph and replay it) or off (launch each step's kernels)")
      ->check(CLI::IsMember({"on", "off"}));
  train_cmd->add_option("--layout", t.layout, "with --device cuda: auto (default: nhwc with --precision tf32 or bf16, nchw with fp32, the faster of the two for each), nchw, or nhwc (activations channels last on the GPU, the layout of cuDNN's tensor-core convolutions); the same results within the precision's tolerance")
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  train_cmd->add_option("--cudnn-engines", t.cudnn_engines, "with --device cuda: all (default: cuDNN's graph-API engines timed beside its legacy algorithms for each convolution pass, the fastest kept; v1 on an H200 1.04x to 1.16x faster channels last) or legacy (the legacy algorithms alone: a shorter search on the first step); the same results within the precision's tolerance")
      ->check(CLI::IsMember({"legacy", "all"}));
  train_cmd->add_option("--direct-conv", t.direct_conv, "with --device cuda: timed (default: the convolutions of layers with at most 4 channels on one side, such as RGB in or out, run on strata's direct kernels where those time faster than cuDNN's choice on the first step and agree with its result; v1 on an H200 1.06x to 1.09x faster in fp32), off (cuDNN only) or always")
      ->check(CLI::IsMember({"off", "timed", "always"}));
  train_cmd->add_option("--threads", t.threads, "CPU threads (0: all cores)")->check(CLI::Range(0, 1024));
  train_cmd->add_option("--resume", t.resume, "continue the run in this folder from its last checkpoint")
      ->check(CLI::ExistingDirectory);
  train_cmd->add_option("--hole", t.hole, "side of the square hole")->capture_default_str();
  train_cmd->add_option("--hole-at", t.hole_at, "TOP,LEFT corner of the hole (default: centred)")->delimiter(',')->expected(2);
  train_cmd->add_option("--cache-dir", t.data.cache_dir, "keep decoded image folders here; the next run with the same folder loads them in seconds");
  train_cmd->add_option("--loss-on", t.loss_region, "where the BCE is averaged: image (as in 2017) or hole")
      ->check(CLI::IsMember({"image", "hole"}))->capture_default_str();
  train_cmd->add_option("--patience", t.patience, "early stopping after N epochs without validation improvement (0: off)")
      ->check(CLI::Range(0, 100000));
  train_cmd->add_option("--plateau-patience", t.plateau_patience, "halve the learning rate after N epochs without improvement (0: off)")
      ->check(CLI::Range(0, 100000));
  train_cmd->add_option("--samples", t.samples, "validation images in each samples picture")
      ->check(CLI::Range(0, 64))->capture_default_str();
  train_cmd->add_option("--builtin-images", t.data.builtin_images, "generated training scenes when --data is not given")
      ->check(CLI::Range(1, 10'000'000))->capture_default_str();
  train_cmd->add_option("--builtin-validation", t.data.builtin_validation, "generated validation scenes when --data is not given")
      ->check(CLI::Range(1, 1'000'000))->capture_default_str();
  train_cmd->add_option("--max-batches", t.max_batches, "train on at most N batches per epoch (0: all)");
  train_cmd->add_option("--on-nan", t.on_nan, "when the loss or a gradient is not finite: stop, or skip-batch")
      ->check(CLI::IsMember({"stop", "skip-batch"}))->capture_default_str();
  train_cmd->add_option("--checkpoint-every", t.checkpoint_every, "also write a checkpoint every N batches (0: after each epoch only)")
      ->check(CLI::Range(0, 100'000'000));
  train_cmd->add_option("--checkpoint-minutes", t.checkpoint_minutes, "also write a checkpoint when this many minutes have passed since the last (0: off)")
      ->check(CLI::Range(0.0, 1e6))->capture_default_str();

  PredictOptions p;
  auto* predict_cmd = app.add_subcommand("predict", "inpaint the centre of given images with trained weights");
  predict_cmd->add_option("--arch", p.arch, arch_help)->capture_default_str();
  predict_cmd->add_option("--weights", p.weights, "a model.safetensors written by train")->required()->check(CLI::ExistingFile);
  predict_cmd->add_option("images", p.images, "JPEG/PNG files")->required()->check(CLI::ExistingFile);
  predict_cmd->add_option("--out", p.out, "folder for the results")->capture_default_str();
  predict_cmd->add_option("--hole", p.hole, "side of the centred square hole")->check(CLI::Range(1, 64))->capture_default_str();

  std::vector<std::string> inspected;
  auto* inspect_cmd = app.add_subcommand("inspect", "check that safetensors files (checkpoints, weights) read back whole, and print their contents");
  inspect_cmd->add_option("files", inspected, "safetensors files")->required();

  std::string summary_arch = "v1";
  auto* summary_cmd = app.add_subcommand("summary", "print an architecture's layers, shapes and parameters");
  summary_cmd->add_option("--arch", summary_arch, arch_help)->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "strata-inpaint: " << e.what() << " (see --help)" << std::endl;
    return 2;
  }

  try {
    if (*train_cmd) {
      check_train_options(t);
      return run_training(t, joined_command_line(argc, argv));
    }
    if (*predict_cmd) {
      if (!inpainting::Architectures::visit(p.arch, []<class>() {}))
        throw UsageError("--arch " + p.arch + ": unknown; choose one of " + inpainting::Architectures::names());
      return run_prediction(p);
    }
    if (*inspect_cmd) return inpainting::inspect_files(inspected, std::cout);
    if (!inpainting::Architectures::visit_entry(summary_arch,
                                                []<class Entry>() { std::cout << inpainting::CpuJobs<Entry>::summary(); }))
      throw UsageError("--arch " + summary_arch + ": unknown; choose one of " + inpainting::Architectures::names());
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "strata-inpaint: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "strata-inpaint: error: " << e.what() << std::endl;
    return 1;
  }
}
