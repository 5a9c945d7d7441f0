// docs/snippets/data_formats.cpp: the code of docs/data-formats.md, compiled and run by the tests
// (linked with strata::images for the image folder).
#include <cstdio>
#include <filesystem>
#include <vector>

#include <stb/stb_image_write.h>

#include <strata/data/image_folder.hpp>
#include <strata/io/weights.hpp>
#include <strata/strata.hpp>

using namespace strata;
using Net = Sequential<Input<3, 64, 64>, Conv<8, 3>, BatchNorm, ReLU, Conv<3, 3>, Sigmoid>;

int main() {
  const auto dir = std::filesystem::temp_directory_path() / "strata_docs_data_formats";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "photos" / "holiday");
  // Two small PNGs to load: 80x60 RGB and 32x32 grayscale.
  std::vector<unsigned char> rgb(80 * 60 * 3, 200), gray(32 * 32, 90);
  stbi_write_png((dir / "photos" / "a.png").c_str(), 80, 60, 3, rgb.data(), 80 * 3);
  stbi_write_png((dir / "photos" / "holiday" / "b.png").c_str(), 32, 32, 1, gray.data(), 32);

  // [images]
  data::LoadReport report;
  data::ImageSet images = data::load_image_folder(dir / "photos", /*side=*/64, report);
  std::printf("%s\n", report.summary("photos").c_str());
  // images.count() images, each 64 x 64 x 3 bytes (HWC, RGB), named by their paths.
  const std::span<const std::uint8_t> first = images.image(0);
  // [images]
  if (images.count() != 2 || first.size() != 64 * 64 * 3) return 1;

  // [weights]
  Model<Net, Cpu> model{/*max_batch=*/4, /*seed=*/1};
  io::save_weights(dir / "model.safetensors", model, {{"note", "any text"}});

  // Any safetensors file can be read and inspected.
  io::SafetensorsFile file = io::read_safetensors(dir / "model.safetensors");
  for (const io::TensorRecord& t : file.tensors)
    std::printf("%-28s %s, %zu dims\n", t.name.c_str(), t.dtype.c_str(), t.shape.size());
  std::vector<float> conv0 = file.floats("0.conv.weight");  // 8 * 3 * 3 * 3 values

  Model<Net, Cpu> copy{4, /*seed=*/2};
  io::load_weights(dir / "model.safetensors", copy);   // all or nothing; names and shapes checked
  // [weights]
  if (conv0.size() != 8 * 3 * 3 * 3 || copy.parameter_data()[0] != model.parameter_data()[0]) return 1;

  // [checkpoint]
  Adam adam{};
  std::vector<float> x(4 * Net::input_shape::size, 0.5f);
  model.train_step(x, x, 4, BinaryCrossEntropy{}, adam);
  io::save_checkpoint(dir / "checkpoint.safetensors", model, {{"epoch", "1"}});

  Model<Net, Cpu> resumed{4, /*seed=*/1};
  io::SafetensorsFile saved = io::load_checkpoint(dir / "checkpoint.safetensors", resumed);
  const std::string epoch = saved.meta("epoch").value_or("?");   // your own metadata back
  // [checkpoint]
  std::printf("resumed at epoch %s, step %llu\n", epoch.c_str(),
              static_cast<unsigned long long>(resumed.step_count()));
  std::filesystem::remove_all(dir);
  return epoch == "1" && resumed.step_count() == 1 ? 0 : 1;
}
