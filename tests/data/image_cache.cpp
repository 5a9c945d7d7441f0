// Tests for strata/data/image_cache.hpp.
#include <doctest/doctest.h>

#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <strata/data/image_cache.hpp>

using namespace strata::data;
namespace fs = std::filesystem;

TEST_CASE("the image cache returns the decoded set, and is ignored when the folder changes or the file is damaged") {
  const fs::path root = fs::temp_directory_path() / "strata_test_cache";
  fs::remove_all(root);
  fs::create_directories(root / "images");
  std::vector<unsigned char> pixels(32 * 32 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 7);
  REQUIRE(stbi_write_png((root / "images" / "a.png").c_str(), 32, 32, 3, pixels.data(), 32 * 3));
  REQUIRE(stbi_write_png((root / "images" / "b.png").c_str(), 32, 32, 3, pixels.data(), 32 * 3));
  const fs::path cache = root / "cache.safetensors";

  LoadReport report;
  std::string how;
  const ImageSet first = load_image_folder_cached(root / "images", 32, report, cache, how);
  CHECK(how.find("decoded (no cache yet)") == 0);
  CHECK(fs::exists(cache));
  const ImageSet second = load_image_folder_cached(root / "images", 32, report, cache, how);
  CHECK(how.find("from cache") == 0);
  CHECK(second.pixels == first.pixels);
  CHECK(second.names == first.names);

  // Another side, or a new file: decoded again.
  load_image_folder_cached(root / "images", 16, report, cache, how);
  CHECK(how.find("the folder changed") != std::string::npos);
  REQUIRE(stbi_write_png((root / "images" / "c.png").c_str(), 32, 32, 3, pixels.data(), 32 * 3));
  const ImageSet third = load_image_folder_cached(root / "images", 32, report, cache, how);
  CHECK(how.find("decoded") == 0);
  CHECK(third.count() == 3);

  // A damaged cache is reported and replaced, not trusted.
  fs::resize_file(cache, 50);
  const ImageSet fourth = load_image_folder_cached(root / "images", 32, report, cache, how);
  CHECK(how.find("unreadable cache") != std::string::npos);
  CHECK(fourth.pixels == third.pixels);
  fs::remove_all(root);
}
