// examples/inpainting/data_sources.cpp: see data_sources.hpp.
#include "data_sources.hpp"

#include <algorithm>
#include <iostream>

#include <strata/core/random.hpp>
#include <strata/data/image_cache.hpp>
#include <strata/data/image_folder.hpp>
#include <strata/data/procedural.hpp>
#include <strata/io/safetensors.hpp>

namespace inpainting {

namespace fs = std::filesystem;
using namespace strata;

namespace {

// A folder's images, through a cache file in --cache-dir when one is given.
data::ImageSet load_folder(const std::string& folder, const DataOptions& o) {
  data::LoadReport report;
  fs::path cache;
  if (!o.cache_dir.empty()) {
    fs::create_directories(o.cache_dir);
    std::uint64_t key = 0;
    for (const char c : fs::absolute(folder).lexically_normal().string()) key = mix64(key ^ static_cast<unsigned char>(c));
    cache = fs::path(o.cache_dir) / ("images_" + std::to_string(key) + "_64.safetensors");
  }
  std::string how;
  data::ImageSet set = data::load_image_folder_cached(folder, 64, report, cache, how);
  std::cout << report.summary(folder) << " (" << how << ")" << std::endl;
  return set;
}

}  // namespace

std::pair<data::ImageSet, data::ImageSet> load_data(const DataOptions& o, std::uint64_t seed, std::string& description) {
  constexpr int side = 64;
  if (o.data_dir.empty()) {
    description = "built-in generated scenes: " + std::to_string(o.builtin_images) + " training, " +
                  std::to_string(o.builtin_validation) + " validation";
    // Validation scenes come from a seed range the training scenes never reach.
    return {data::procedural_images(o.builtin_images, 0, side),
            data::procedural_images(o.builtin_validation, 1'000'000'000, side)};
  }
  data::ImageSet all = load_folder(o.data_dir, o);
  if (!o.val_dir.empty()) {
    data::ImageSet validation = load_folder(o.val_dir, o);
    description = o.data_dir + " (" + std::to_string(all.count()) + " images), validation " + o.val_dir + " (" +
                  std::to_string(validation.count()) + ")";
    return {std::move(all), std::move(validation)};
  }
  // A seeded split: a shuffled tail of val_split of the images.
  const std::vector<std::size_t> order = shuffled_indices(all.count(), mix64(seed) ^ 0x7a11da7aull);
  const auto held_out = static_cast<std::size_t>(o.val_split * static_cast<double>(order.size()) + 0.5);
  if (held_out == 0 || held_out >= order.size())
    throw UsageError("--val-split " + std::to_string(o.val_split) + " leaves no images for training or validation (" +
                     std::to_string(order.size()) + " images in " + o.data_dir + ")");
  std::vector<std::size_t> train_idx(order.begin(), order.end() - static_cast<std::ptrdiff_t>(held_out));
  std::vector<std::size_t> val_idx(order.end() - static_cast<std::ptrdiff_t>(held_out), order.end());
  std::sort(train_idx.begin(), train_idx.end());
  std::sort(val_idx.begin(), val_idx.end());
  description = o.data_dir + ": " + std::to_string(train_idx.size()) + " training, " + std::to_string(val_idx.size()) +
                " validation (--val-split " + std::to_string(o.val_split) + ", seed " + std::to_string(seed) + ")";
  return {data::select(all, train_idx), data::select(all, val_idx)};
}

std::uint64_t seed_of_run(const fs::path& run) {
  for (const char* name : {"checkpoint.safetensors", "checkpoint.safetensors.new", "checkpoint_prev.safetensors"}) {
    try {
      if (auto seed = io::read_safetensors(run / name).meta("seed")) return std::stoull(*seed);
    } catch (const std::exception&) {
      // try the other one; the trainer reports what is wrong with both
    }
  }
  throw UsageError("--resume " + run.string() + ": no readable checkpoint in that folder");
}

int inspect_files(const std::vector<std::string>& files, std::ostream& out) {
  int status = 0;
  for (const std::string& name : files) {
    try {
      const io::SafetensorsFile file = io::read_safetensors(name);
      std::uint64_t values = 0;
      for (const auto& t : file.tensors) values += t.element_count();
      out << name << ": whole, " << file.tensors.size() << " tensors, " << values << " values\n";
      for (const auto& [key, value] : file.metadata) {
        if (key == "history") {
          const auto rows = std::count(value.begin(), value.end(), '\n') - 1;
          out << "  history = " << rows << " epochs\n";
        } else {
          out << "  " << key << " = " << value << "\n";
        }
      }
    } catch (const std::exception& e) {
      out << name << ": damaged: " << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

}  // namespace inpainting
