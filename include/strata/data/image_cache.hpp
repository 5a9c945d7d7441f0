// strata/data/image_cache.hpp: a decoded image folder saved to one file, so the next run with the
// same folder starts in seconds instead of decoding every JPEG again.
//
// The cache is a safetensors file: a U8 tensor "images" [N, side, side, 3] (HWC), and metadata
// with the folder, the side, the file names and a fingerprint of the folder's listing (each
// image file's path, size and modification time). The cache is used only when the fingerprint
// and side match; a stale, damaged or foreign cache is ignored (and rewritten), never trusted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "strata/core/random.hpp"
#include "strata/data/image_folder.hpp"
#include "strata/io/safetensors.hpp"

namespace strata::data {

// Changes whenever an image file under `folder` is added, removed, resized or touched.
inline std::string folder_fingerprint(const std::filesystem::path& folder) {
  std::uint64_t h = 0x5eed;
  for (const auto& file : list_image_files(folder)) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    const auto time = std::filesystem::last_write_time(file, ec).time_since_epoch().count();
    for (const char c : file.string()) h = mix64(h ^ static_cast<unsigned char>(c));
    h = mix64(h ^ static_cast<std::uint64_t>(size));
    h = mix64(h ^ static_cast<std::uint64_t>(time));
  }
  return std::to_string(h);
}

// The cached set when `cache` matches `folder` and `side`; nothing otherwise (with `why` set).
inline std::optional<ImageSet> read_image_cache(const std::filesystem::path& cache, const std::filesystem::path& folder,
                                                int side, std::string& why) {
  if (!std::filesystem::exists(cache)) {
    why = "no cache yet";
    return std::nullopt;
  }
  try {
    const io::SafetensorsFile file = io::read_safetensors(cache);
    if (file.meta("strata.image_cache") != "1" || file.meta("side") != std::to_string(side) ||
        file.meta("fingerprint") != folder_fingerprint(folder)) {
      why = "the folder changed since the cache was written";
      return std::nullopt;
    }
    ImageSet set;
    set.side = side;
    const auto bytes = file.bytes_u8("images");
    std::istringstream names(file.meta("names").value_or(""));
    for (std::string line; std::getline(names, line);) set.names.push_back(line);
    if (bytes.size() != set.names.size() * set.image_bytes()) {
      why = "the cache's images and names disagree";
      return std::nullopt;
    }
    set.pixels.assign(bytes.begin(), bytes.end());
    return set;
  } catch (const std::exception& e) {
    why = std::string("unreadable cache (") + e.what() + ")";
    return std::nullopt;
  }
}

inline void write_image_cache(const std::filesystem::path& cache, const std::filesystem::path& folder,
                              const ImageSet& set) {
  std::string names;
  for (const auto& n : set.names) names += n + "\n";
  const io::TensorToWrite tensors[] = {{"images",
                                        {static_cast<std::int64_t>(set.count()), set.side, set.side, 3},
                                        {},
                                        {},
                                        set.pixels}};
  io::write_safetensors(cache, tensors,
                        {{"strata.image_cache", "1"},
                         {"folder", folder.string()},
                         {"side", std::to_string(set.side)},
                         {"fingerprint", folder_fingerprint(folder)},
                         {"names", names}});
}

// Loads `folder`, through `cache` when it is given and valid; writes the cache after decoding.
inline ImageSet load_image_folder_cached(const std::filesystem::path& folder, int side, LoadReport& report,
                                        const std::filesystem::path& cache, std::string& how) {
  if (!cache.empty()) {
    std::string why;
    if (auto set = read_image_cache(cache, folder, side, why)) {
      report = LoadReport{};
      report.files = report.decoded = set->count();
      how = "from cache " + cache.string();
      return std::move(*set);
    }
    how = "decoded (" + why + "), cache written to " + cache.string();
  } else {
    how = "decoded";
  }
  ImageSet set = load_image_folder(folder, side, report);
  if (!cache.empty()) write_image_cache(cache, folder, set);
  return set;
}

}  // namespace strata::data
