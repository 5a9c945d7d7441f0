// examples/inpainting/data_sources.hpp: where strata-inpaint's images come from (built-in scenes,
// an image folder with its cache, a seeded validation split), the seed of a run being resumed,
// and what `inspect` prints about a safetensors file.
//
// Compiled in data_sources.cpp, apart from main.cpp: CLI11 alone makes main.cpp a 7-second file,
// and with these inline readers and decoders it came within a second of issue 5's 20 s budget.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <strata/data/image_set.hpp>

namespace inpainting {

// A bad command-line value: main prints its message on one line and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The train command's options that choose the images.
struct DataOptions {
  std::string data_dir;   // empty: built-in generated scenes
  std::string val_dir;    // empty: hold out val_split of data_dir
  std::string cache_dir;  // empty: decode the folders every time
  double val_split = 0.1;
  int builtin_images = 2048;
  int builtin_validation = 256;
};

// Training and validation images as the options say, a --val-split drawn with the run's seed;
// `description` says which, for the log. Throws UsageError when the split leaves no images on
// one side.
std::pair<strata::data::ImageSet, strata::data::ImageSet> load_data(const DataOptions& o, std::uint64_t seed,
                                                                    std::string& description);

// The seed a run was started with, from its checkpoint (the split of --data depends on it).
std::uint64_t seed_of_run(const std::filesystem::path& run);

// Each file: its tensors and metadata (a checkpoint's history as a row count), or why it is not
// whole. Returns 0 when every file read back whole, else 1.
int inspect_files(const std::vector<std::string>& files, std::ostream& out);

}  // namespace inpainting
