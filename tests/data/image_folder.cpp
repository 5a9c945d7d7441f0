// Tests for strata/data/image_folder.hpp on image files the test writes itself.
#include <doctest/doctest.h>

#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <strata/data/image_folder.hpp>

using namespace strata::data;
namespace fs = std::filesystem;

namespace {

// A w x h image whose pixel (x, y) has channels (x, y, x + y) mod 256, as `channels` channels.
std::vector<unsigned char> pattern(int w, int h, int channels) {
  std::vector<unsigned char> p(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c) {
        const int v = c == 0 ? x * 3 : c == 1 ? y * 3 : x + y;
        p[(static_cast<std::size_t>(y) * w + x) * channels + c] = static_cast<unsigned char>(v % 256);
      }
  return p;
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

struct Folder {
  fs::path path;
  explicit Folder(const std::string& name) : path(fs::temp_directory_path() / name) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Folder() { fs::remove_all(path); }
};

}  // namespace

TEST_CASE("load_image_folder decodes PNG and JPEG, grayscale, alpha and odd sizes, recursively, in sorted order") {
  Folder folder("strata_test_images");
  fs::create_directories(folder.path / "sub" / "deeper");
  const auto rgb = pattern(64, 64, 3);
  REQUIRE(stbi_write_png((folder.path / "a_rgb.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  const auto gray = pattern(64, 64, 1);
  REQUIRE(stbi_write_jpg((folder.path / "sub" / "b_gray.JPG").c_str(), 64, 64, 1, gray.data(), 95));
  const auto rgba = pattern(64, 64, 4);
  REQUIRE(stbi_write_png((folder.path / "sub" / "deeper" / "c_alpha.png").c_str(), 64, 64, 4, rgba.data(), 64 * 4));
  const auto wide = pattern(96, 64, 3);  // centre crop to 64x64: columns 16..79
  REQUIRE(stbi_write_png((folder.path / "d_wide.png").c_str(), 96, 64, 3, wide.data(), 96 * 3));
  const auto big = pattern(128, 128, 3);  // resized to 64x64
  REQUIRE(stbi_write_jpg((folder.path / "e_big.jpeg").c_str(), 128, 128, 3, big.data(), 90));
  write_bytes(folder.path / "notes.txt", "not an image");  // ignored: not an image name

  LoadReport report;
  const ImageSet set = load_image_folder(folder.path, 64, report, 2);
  REQUIRE(set.count() == 5);
  CHECK(report.skipped == 0);
  CHECK(fs::path(set.names[0]).filename() == "a_rgb.png");
  CHECK(fs::path(set.names[1]).filename() == "d_wide.png");
  CHECK(fs::path(set.names[2]).filename() == "e_big.jpeg");
  CHECK(fs::path(set.names[3]).filename() == "b_gray.JPG");   // sub/b_gray sorts before sub/deeper/
  CHECK(fs::path(set.names[4]).filename() == "c_alpha.png");
  // PNG is lossless: exact pixels.
  CHECK(std::equal(rgb.begin(), rgb.end(), set.image(0).begin()));
  // Centre crop of the wide image: output (x, y) is input (x + 16, y).
  const auto cropped = set.image(1);
  CHECK(cropped[(5 * 64 + 0) * 3 + 0] == (16 * 3) % 256);
  CHECK(cropped[(5 * 64 + 7) * 3 + 1] == 15);
  // Alpha dropped, RGB kept.
  CHECK(set.image(4)[(2 * 64 + 9) * 3 + 0] == 27);
  // Grayscale to RGB: three equal channels close to the gray value (JPEG is lossy).
  const auto g = set.image(3);
  const std::size_t at = (10 * 64 + 20) * 3;
  CHECK(g[at] == g[at + 1]);
  CHECK(g[at] == g[at + 2]);
  CHECK(std::abs(int(g[at]) - 60) <= 4);
  // The resized image keeps its gradient: left darker than right in channel 0.
  CHECK(set.image(2)[(30 * 64 + 5) * 3] < set.image(2)[(30 * 64 + 40) * 3]);
}

TEST_CASE("bad files are skipped, counted and named; a folder without images is an error naming it") {
  Folder folder("strata_test_bad_images");
  const auto rgb = pattern(64, 64, 3);
  REQUIRE(stbi_write_png((folder.path / "good.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  write_bytes(folder.path / "empty.jpg", "");
  write_bytes(folder.path / "garbage.png", "this is not a png at all");
  std::ifstream in(folder.path / "good.png", std::ios::binary);
  std::string png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(folder.path / "truncated.png", png.substr(0, png.size() / 2));
  // A PNG header claiming 100000 x 100000 pixels must be refused before any allocation.
  std::string forged = png.substr(0, 33);
  const unsigned char dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
  forged.replace(16, 8, reinterpret_cast<const char*>(dims), 8);
  write_bytes(folder.path / "huge.png", forged);

  LoadReport report;
  const ImageSet set = load_image_folder(folder.path, 64, report);
  CHECK(set.count() == 1);
  CHECK(report.files == 5);
  CHECK(report.skipped == 4);
  CHECK(report.skipped_examples.size() == 3);
  CHECK(report.summary("x").find("4 skipped") != std::string::npos);
  CHECK(report.skipped_examples[0].find("empty.jpg: empty file") != std::string::npos);

  Folder empty("strata_test_no_images");
  CHECK_THROWS_WITH_AS(load_image_folder(empty.path, 64, report), doctest::Contains("strata_test_no_images: no .jpg"),
                       DataError);
  Folder only_bad("strata_test_only_bad");
  write_bytes(only_bad.path / "x.jpg", "nope");
  CHECK_THROWS_WITH_AS(load_image_folder(only_bad.path, 64, report), doctest::Contains("none of its 1 image files"),
                       DataError);
  CHECK_THROWS_WITH_AS(load_image_folder(folder.path / "missing", 64, report), doctest::Contains("not a folder"), DataError);
}

TEST_CASE("16-bit PNG, 16-bit gray with alpha and CMYK JPEG are converted to the right RGB colours") {
  // Each fixture's left half is one colour, its right half another (tests/data/fixtures/make_fixtures.py).
  struct Expected {
    const char* file;
    unsigned char left[3], right[3];
    int tolerance;
  };
  const Expected cases[] = {{"rgb16.png", {200, 30, 60}, {20, 120, 240}, 0},
                            {"gray_alpha16.png", {90, 90, 90}, {180, 180, 180}, 0},  // alpha dropped
                            {"cmyk.jpg", {200, 30, 60}, {20, 120, 240}, 4}};
  for (const Expected& e : cases) {
    CAPTURE(e.file);
    std::vector<unsigned char> bytes;
    REQUIRE(read_file_bytes(fs::path(STRATA_TEST_FIXTURES) / e.file, bytes).empty());
    std::vector<std::uint8_t> rgb(16 * 16 * 3);
    REQUIRE(decode_image(bytes, 16, rgb.data()).empty());
    for (int c = 0; c < 3; ++c) {
      CHECK(std::abs(rgb[(5 * 16 + 2) * 3 + c] - e.left[c]) <= e.tolerance);
      CHECK(std::abs(rgb[(5 * 16 + 13) * 3 + c] - e.right[c]) <= e.tolerance);
    }
  }
}

TEST_CASE("symlinked folders are followed once: a loop, a dangling link, a FIFO and a folder named x.jpg do no harm") {
  Folder outside("strata_test_links_outside");
  Folder folder("strata_test_links");
  const auto rgb = pattern(64, 64, 3);
  fs::create_directories(folder.path / "a");
  fs::create_directories(folder.path / "dir.jpg");
  REQUIRE(stbi_write_png((folder.path / "a" / "one.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  REQUIRE(stbi_write_png((folder.path / "dir.jpg" / "two.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  REQUIRE(stbi_write_png((outside.path / "three.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  fs::create_directory_symlink(outside.path, folder.path / "linked");     // followed
  fs::create_directory_symlink(folder.path, folder.path / "a" / "loop");  // back to the top
  fs::create_directory_symlink(folder.path / "a", folder.path / "again");  // a second way into a/
  fs::create_symlink(folder.path / "nothing.png", folder.path / "dangling.png");
  REQUIRE(::mkfifo((folder.path / "fifo.png").c_str(), 0644) == 0);  // reading it would block

  LoadReport report;
  const ImageSet set = load_image_folder(folder.path, 64, report);
  CHECK(set.count() == 3);  // one, two and three, each once
  CHECK(report.skipped == 2);
  CHECK(report.summary("x").find("dangling.png: a link that leads nowhere") != std::string::npos);
  CHECK(report.summary("x").find("fifo.png: not a regular file") != std::string::npos);
  CHECK(report.folders_skipped == 2);
  CHECK(report.summary("x").find("2 folders not read") != std::string::npos);
  CHECK(report.summary("x").find("symlink loop") != std::string::npos);
  // Of the two ways into a/, "a" sorts first: its files are named through it on every filesystem.
  const auto named = [&](const fs::path& p) { return std::find(set.names.begin(), set.names.end(), p.string()) != set.names.end(); };
  CHECK(named(folder.path / "a" / "one.png"));
  CHECK(report.summary("x").find("again: the same folder") != std::string::npos);
}

TEST_CASE("of two links to one folder, the one that sorts first is read, whatever order the folder lists them in") {
  Folder folder("strata_test_link_order");
  const auto rgb = pattern(64, 64, 3);
  fs::create_directories(folder.path / "data" / "real");
  REQUIRE(stbi_write_png((folder.path / "data" / "real" / "x.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  // Created in an order other than sorted, several times over, so that a listing in creation or
  // hash order would pick another link on some runs.
  for (const char* name : {"m_link", "c_link", "z_link", "b_link"})
    fs::create_directory_symlink(folder.path / "data" / "real", folder.path / "data" / name);
  LoadReport report;
  const ImageSet set = load_image_folder(folder.path / "data", 64, report);
  REQUIRE(set.count() == 1);
  CHECK(set.names[0] == (folder.path / "data" / "b_link" / "x.png").string());
  CHECK(report.folders_skipped == 4);  // c, m, z and the real folder itself, each a second way in
}

TEST_CASE("unreadable files and folders are skipped and named, also when the tests run as root") {
  Folder folder("strata_test_permissions");
  fs::permissions(folder.path, fs::perms::all);
  const auto rgb = pattern(64, 64, 3);
  REQUIRE(stbi_write_png((folder.path / "good.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  REQUIRE(stbi_write_png((folder.path / "locked.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  fs::create_directories(folder.path / "closed");
  REQUIRE(stbi_write_png((folder.path / "closed" / "inside.png").c_str(), 64, 64, 3, rgb.data(), 64 * 3));
  fs::permissions(folder.path / "locked.png", fs::perms::none);
  fs::permissions(folder.path / "closed", fs::perms::none);
  // Root reads everything: the check runs in a child process as user nobody.
  auto check = [&]() -> int {
    LoadReport report;
    const ImageSet set = load_image_folder(folder.path, 64, report);
    const std::string text = report.summary("x");
    if (set.count() != 1) return 10;
    if (text.find("locked.png: cannot open (Permission denied)") == std::string::npos) return 11;
    if (text.find("closed: cannot be read (Permission denied)") == std::string::npos) return 12;
    return 0;
  };
  int status = 0;
  if (::geteuid() != 0) {
    status = check();
  } else {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(20);
      int result = 30;
      try {
        result = check();
      } catch (...) {
      }
      ::_exit(result);
    }
    int wait_status = 0;
    REQUIRE(::waitpid(child, &wait_status, 0) == child);
    REQUIRE(WIFEXITED(wait_status));
    status = WEXITSTATUS(wait_status);
  }
  CHECK_MESSAGE(status == 0, "10: wrong count, 11: the locked file not named, 12: the closed folder not named");
  fs::permissions(folder.path / "closed", fs::perms::all);
}

TEST_CASE("a small file whose header claims millions of pixels is refused before decoding") {
  Folder folder("strata_test_forged_size");
  const auto rgb = pattern(64, 64, 3);
  REQUIRE(stbi_write_jpg((folder.path / "small.jpg").c_str(), 64, 64, 3, rgb.data(), 90));
  std::vector<unsigned char> bytes;
  REQUIRE(read_file_bytes(folder.path / "small.jpg", bytes).empty());
  std::vector<std::uint8_t> out(64 * 64 * 3);
  REQUIRE(decode_image(bytes, 64, out.data()).empty());
  // The frame header (SOF0: FF C0, length, precision, height, width) now claims 4096 x 4096.
  std::size_t sof = 2;
  while (sof + 1 < bytes.size() && !(bytes[sof] == 0xFF && bytes[sof + 1] == 0xC0)) ++sof;
  REQUIRE(sof + 9 < bytes.size());
  bytes[sof + 5] = 0x10;
  bytes[sof + 6] = 0x00;
  bytes[sof + 7] = 0x10;
  bytes[sof + 8] = 0x00;
  const std::string problem = decode_image(bytes, 64, out.data());
  CHECK(problem.find("bytes cannot hold the 4096x4096 pixels the header claims (truncated or forged)") !=
        std::string::npos);
}
