// Tests for strata/io/safetensors.hpp: round trips and every kind of damage the reader must catch.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <strata/io/safetensors.hpp>

using namespace strata::io;

namespace {

std::vector<unsigned char> sample_file() {
  const std::vector<float> a{1, 2, 3, 4, 5, 6}, b{-1.5f};
  const TensorToWrite tensors[] = {{"0.conv.weight", {2, 3}, a}, {"0.conv.bias", {1}, b}};
  return encode_safetensors(tensors, {{"epoch", "3"}});
}

// A file whose JSON header is `header` followed by `data_bytes` zero bytes.
std::vector<unsigned char> with_header(const std::string& header, std::size_t data_bytes) {
  std::vector<unsigned char> bytes(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

}  // namespace

TEST_CASE("safetensors round trip: names, shapes, values and metadata") {
  const SafetensorsFile f = parse_safetensors(sample_file(), "sample");
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].name == "0.conv.weight");
  CHECK(f.floats("0.conv.weight") == std::vector<float>{1, 2, 3, 4, 5, 6});
  CHECK(f.floats("0.conv.bias") == std::vector<float>{-1.5f});
  CHECK(f.meta("epoch") == "3");
  // The header is padded so the data starts 8-byte aligned, as the format recommends.
  std::uint64_t header = 0;
  std::memcpy(&header, sample_file().data(), 8);
  CHECK(header % 8 == 0);

  const auto path = std::filesystem::temp_directory_path() / "strata_test_roundtrip.safetensors";
  const std::vector<float> v{0.25f, 0.5f};
  const TensorToWrite t[] = {{"x", {2}, v}};
  write_safetensors(path, t);
  CHECK(read_safetensors(path).floats("x") == v);
  CHECK(!std::filesystem::exists(path.string() + ".tmp"));
  std::filesystem::remove(path);
}

TEST_CASE("safetensors reader errors name the problem and the tensor") {
  auto good = sample_file();
  CHECK_THROWS_WITH_AS(parse_safetensors({1, 2, 3}, "f"), doctest::Contains("too short"), FormatError);
  auto truncated = good;
  truncated.resize(truncated.size() - 4);
  CHECK_THROWS_WITH_AS(parse_safetensors(truncated, "f"), doctest::Contains("0.conv.bias"), FormatError);
  auto huge = good;
  const std::uint64_t lie = 1ull << 40;
  std::memcpy(huge.data(), &lie, 8);
  CHECK_THROWS_WITH_AS(parse_safetensors(huge, "f"), doctest::Contains("does not fit"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header("{not json", 0), "f"), doctest::Contains("not valid JSON"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header("[]", 0), "f"), doctest::Contains("not a JSON object"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8000]}})", 8), "f"),
                       doctest::Contains("tensor 'w': data_offsets [0, 8000] point outside"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "f"),
                       doctest::Contains("needs 12"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8), "f"),
                       doctest::Contains("unknown dtype"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "f"),
                       doctest::Contains("shape entries"), FormatError);
  CHECK_THROWS_WITH_AS(
      parse_safetensors(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "f"),
      doctest::Contains("overlaps"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "f"),
                       doctest::Contains("gap"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8), "f"),
                       doctest::Contains("belong to none"), FormatError);
  CHECK_THROWS_WITH_AS(parse_safetensors(with_header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "f"),
                       doctest::Contains("impossibly large"), FormatError);
  const SafetensorsFile f = parse_safetensors(good, "f");
  const std::vector<std::int64_t> wrong{3, 2};
  CHECK_THROWS_WITH_AS(f.floats("0.conv.weight", &wrong), doctest::Contains("has shape [2, 3], expected [3, 2]"), FormatError);
  CHECK_THROWS_WITH_AS(f.floats("nope"), doctest::Contains("'nope' is missing"), FormatError);
  CHECK_THROWS_AS(read_safetensors("/nonexistent/x.safetensors"), FileError);
}

TEST_CASE("a checksum finds any byte of the data damaged after writing; files without one still read") {
  const std::vector<unsigned char> good = sample_file();
  const SafetensorsFile f = parse_safetensors(good, "sample");
  REQUIRE(f.meta("data_checksum").has_value());
  CHECK(f.meta("data_checksum")->size() == 16);
  std::uint64_t header = 0;
  std::memcpy(&header, good.data(), 8);
  for (std::size_t at = 8 + header; at < good.size(); ++at) {
    for (unsigned char bit : {0x01, 0x80}) {
      std::vector<unsigned char> damaged = good;
      damaged[at] ^= bit;
      CHECK_THROWS_WITH_AS(parse_safetensors(damaged, "damaged.safetensors"),
                           doctest::Contains("damaged.safetensors: the data does not match its checksum"), FormatError);
    }
  }
  // Swapping two tensors' bytes keeps every value's bits but not their order: also caught.
  std::vector<unsigned char> swapped = good;
  std::swap_ranges(swapped.begin() + 8 + static_cast<std::ptrdiff_t>(header),
                   swapped.begin() + 8 + static_cast<std::ptrdiff_t>(header) + 4,
                   swapped.begin() + 8 + static_cast<std::ptrdiff_t>(header) + 4);
  CHECK_THROWS_AS(parse_safetensors(swapped, "swapped"), FormatError);
  // The metadata is covered too: a checkpoint keeps its state there.
  std::vector<unsigned char> edited = good;
  const std::string text(edited.begin(), edited.end());
  const auto at = text.find("\"epoch\":\"3\"");
  REQUIRE(at != std::string::npos);
  edited[at + 9] = '4';
  CHECK_THROWS_WITH_AS(parse_safetensors(edited, "edited"), doctest::Contains("does not match its checksum"), FormatError);
  // Another writer's file has no checksum (PyTorch's): read as it is.
  const std::string plain = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK(parse_safetensors(with_header(plain, 4), "plain").floats("x") == std::vector<float>{0.0f});
}

TEST_CASE("DataChecksum does not depend on how the bytes are split into pieces") {
  std::vector<unsigned char> bytes(103);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
  DataChecksum whole;
  whole.add(bytes.data(), bytes.size());
  for (std::size_t cut : {1u, 3u, 8u, 13u, 64u, 102u}) {
    DataChecksum pieces;
    pieces.add(bytes.data(), cut);
    pieces.add(bytes.data() + cut, 0);
    pieces.add(bytes.data() + cut, bytes.size() - cut);
    CHECK(pieces.text() == whole.text());
  }
  DataChecksum shorter;  // a zero byte less is a different stream
  shorter.add(bytes.data(), bytes.size() - 1);
  CHECK(shorter.text() != whole.text());
}

TEST_CASE("a failed atomic write leaves the previous file intact") {
  const auto folder = std::filesystem::temp_directory_path() / "strata_test_atomic";
  std::filesystem::create_directories(folder);
  const auto path = folder / "w.safetensors";
  const std::vector<float> v{1.0f};
  const TensorToWrite t[] = {{"x", {1}, v}};
  write_safetensors(path, t);
  // A temp file that cannot be created: a folder is in its way.
  std::filesystem::create_directories(path.string() + ".tmp");
  CHECK_THROWS_AS(write_safetensors(path, t), FileError);
  CHECK(read_safetensors(path).floats("x") == v);
  std::filesystem::remove_all(folder);
}
