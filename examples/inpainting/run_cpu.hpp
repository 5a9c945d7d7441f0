// examples/inpainting/run_cpu.hpp: strata-inpaint's CPU work for one architecture: train, predict.
//
// CpuJobs<Entry> is explicitly instantiated once per architecture, each in its own file
// (cpu_v1.cpp, cpu_v2.cpp, ...), and declared `extern` here, so main.cpp instantiates no network
// and no translation unit compiles more than one: each builds in a few seconds, and in parallel.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <strata/data/batches.hpp>
#include <strata/data/hole.hpp>
#include <strata/data/image_folder.hpp>
#include <strata/io/weights.hpp>
#include <strata/train/pictures.hpp>
#include <strata/train/trainer.hpp>

#include "architectures.hpp"

namespace inpainting {

// `predict`: inpaint the centre of each image with trained weights, one PNG per image.
struct PredictJob {
  std::string weights;
  std::vector<std::string> images;
  std::string out_dir;
  int hole = 32;
};

template <class Entry>
struct CpuJobs {
  using Net = typename Entry::network;

  // The architecture's layers, shapes and parameters (Net::summary(); here rather than in main.cpp,
  // which would otherwise instantiate it for every architecture and approach its 20 s budget).
  static std::string summary() { return Net::summary(); }

  // Trains with Trainer<Net, Cpu>; `started` is called once the model exists, before training.
  static strata::train::TrainingResult train(const strata::train::TrainerConfig& config, const data::ImageSet& training,
                                     const data::ImageSet& validation, std::ostream& out,
                                     const std::function<void()>& started) {
    strata::train::Trainer<Net, Cpu> trainer(config, training, validation, out);
    if (started) started();
    return trainer.run();
  }

  // Writes OUT/<name>_inpainted.png (masked | filled | truth) per image; an image that cannot be
  // read is skipped with its reason on `err`. Returns the number of images written.
  static int predict(const PredictJob& job, std::ostream& out, std::ostream& err) {
    namespace fs = std::filesystem;
    constexpr Dims dims = Net::input_shape::dims;
    const data::Hole hole = data::Hole::centred(dims.h, job.hole);
    Model<Net, Cpu> model(1, 1);
    io::load_weights(job.weights, model);
    fs::create_directories(job.out_dir);
    std::vector<std::uint8_t> hwc(dims.size());
    std::vector<float> truth(dims.size()), masked(dims.size()), predicted(dims.size());
    int written = 0;
    for (const std::string& file : job.images) {
      std::vector<unsigned char> bytes;
      std::string problem = data::read_file_bytes(file, bytes);
      if (problem.empty()) problem = data::decode_image(bytes, dims.h, hwc.data());
      if (!problem.empty()) {
        err << "skipped " << file << ": " << problem << "\n";
        continue;
      }
      data::to_chw(hwc, dims.h, truth.data());
      masked = truth;
      hole.blank(masked.data(), 3, dims.h, dims.w);
      model.predict(masked, 1, predicted);
      // Keep the known pixels; take the network's output inside the hole.
      std::vector<float> filled = truth;
      for (int c = 0; c < 3; ++c)
        for (int y = hole.top; y < hole.top + hole.height; ++y)
          for (int x = hole.left; x < hole.left + hole.width; ++x) {
            const std::size_t i = (static_cast<std::size_t>(c) * dims.h + y) * dims.w + x;
            filled[i] = predicted[i];
          }
      const fs::path target = fs::path(job.out_dir) / (fs::path(file).stem().string() + "_inpainted.png");
      strata::train::save_sample_grid(target, masked, filled, truth, 1, dims, fs::path(file).filename().string());
      out << target.string() << "\n";
      ++written;
    }
    return written;
  }
};

extern template struct CpuJobs<V1>;
extern template struct CpuJobs<V2>;
extern template struct CpuJobs<V1BatchNorm>;
extern template struct CpuJobs<V1Dropout>;
extern template struct CpuJobs<V1Leaky>;
extern template struct CpuJobs<V1UNet>;

}  // namespace inpainting
