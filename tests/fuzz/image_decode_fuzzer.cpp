// tests/fuzz/image_decode_fuzzer.cpp: libFuzzer target for the image decoding path
// (data/image_folder.hpp's decode_image: header check, stb's JPEG/PNG decoders, crop, resize).
//
// Whatever the bytes, decoding must return an image or a reason, never crash, read out of
// bounds or allocate more than the size check allows. Built with clang by tests/fuzz/run.sh, and
// replayed over the seed corpus and every kept crash by the normal test build
// (tests/fuzz/replay_main.cpp).
// stb's decoders are compiled here rather than taken from libstb.so, so that the fuzzer's
// coverage instrumentation and the sanitizers see inside them.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <cstddef>
#include <cstdint>
#include <vector>

#include <strata/data/image_folder.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<unsigned char> bytes(data, data + size);
  std::vector<std::uint8_t> out(64 * 64 * 3);
  const std::string problem = strata::data::decode_image(bytes, 64, out.data());
  if (problem.empty()) {
    // A decoded image also goes through the side-16 path (a downscale), as other networks use it.
    std::vector<std::uint8_t> small(16 * 16 * 3);
    strata::data::decode_image(bytes, 16, small.data());
  }
  return 0;
}
