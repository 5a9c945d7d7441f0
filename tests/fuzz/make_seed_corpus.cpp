// tests/fuzz/make_seed_corpus.cpp: writes the fuzzers' seed corpus, valid inputs of every kind
// the readers accept, for libFuzzer to mutate and for the replay tests to run.
//   make_seed_corpus OUT_DIR FIXTURES_DIR  ->  OUT_DIR/image_decode/*, OUT_DIR/safetensors/*
#include <stb/stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <strata/io/weights.hpp>
#include <strata/train/history.hpp>
#include <strata/train/metrics.hpp>

#include "fuzz_net.hpp"

namespace fs = std::filesystem;
using namespace strata;

namespace {

std::vector<unsigned char> pattern(int w, int h, int channels) {
  std::vector<unsigned char> p(static_cast<std::size_t>(w) * h * channels);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<unsigned char>((i * 29) % 251);
  return p;
}

void images(const fs::path& dir, const fs::path& fixtures) {
  fs::create_directories(dir);
  const auto rgb = pattern(64, 64, 3), gray = pattern(20, 12, 1), rgba = pattern(9, 9, 4);
  stbi_write_png((dir / "rgb64.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3);
  stbi_write_png((dir / "gray20x12.png").c_str(), 20, 12, 1, gray.data(), 20);
  stbi_write_png((dir / "rgba9.png").c_str(), 9, 9, 4, rgba.data(), 9 * 4);
  stbi_write_jpg((dir / "rgb64.jpg").c_str(), 64, 64, 3, rgb.data(), 90);
  stbi_write_jpg((dir / "gray20x12.jpg").c_str(), 20, 12, 1, gray.data(), 50);
  for (const char* f : {"rgb16.png", "gray_alpha16.png", "cmyk.jpg"})
    fs::copy_file(fixtures / f, dir / f, fs::copy_options::overwrite_existing);
}

void safetensors(const fs::path& dir) {
  fs::create_directories(dir);
  Model<testing::FuzzNet, Cpu> model(1, 1, ModelOptions{.threads = 1});
  io::save_weights(dir / "weights.safetensors", model, {{"architecture", "fuzz"}});
  train::EpochRecord record;
  record.epoch = 1;
  train::MetricsAccumulator sums;
  io::save_checkpoint(dir / "checkpoint.safetensors", model,
                      {{"architecture", "fuzz"},
                       {"epoch", "1"},
                       {"batches_done", "3"},
                       {"history", train::history_csv({record})},
                       {"epoch_metrics", sums.to_text()}});
  const std::vector<double> f64{1.5, -2.25};
  const std::vector<std::uint8_t> u8{1, 2, 3};
  const std::vector<float> f32{};
  const io::TensorToWrite mixed[] = {{"a", {2}, {}, f64}, {"b", {3}, {}, {}, u8}, {"empty", {0}, f32}};
  io::write_safetensors(dir / "mixed.safetensors", mixed);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seed_corpus OUT_DIR FIXTURES_DIR\n");
    return 2;
  }
  images(fs::path(argv[1]) / "image_decode", argv[2]);
  safetensors(fs::path(argv[1]) / "safetensors");
  std::printf("seed corpus written to %s\n", argv[1]);
  return 0;
}
