// strata/data/image_folder.hpp: every JPEG/PNG under a folder, decoded in parallel to
// side x side RGB.
//
// The tree is walked recursively, following symlinked folders (data sets are often linked in)
// but entering each real folder once, so a symlink loop cannot trap it; folders that cannot be
// read or were reached twice are counted and named. Files are taken in sorted order (so image i
// is the same file on every run). Each file is checked before decoding: its header's size must
// be sane (at most 16384 on a side and 64 megapixels, so a forged 100000x100000 header allocates
// nothing). Grayscale becomes RGB, alpha is dropped (the colour kept), 16-bit PNGs are reduced to
// 8 bits, CMYK/YCCK JPEGs converted to RGB; other sizes are centre-cropped to a square and
// resized. Files that cannot be read or decoded (unreadable, dangling links, truncated, not an
// image) are skipped and counted, with the first few named. A folder without one decodable
// image is an error naming the folder.
//
// Requires linking libstb (target strata::images), which provides the stb_image decoders.
#pragma once

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "strata/data/image_set.hpp"

namespace strata::data {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LoadReport {
  std::size_t files = 0;     // image-named files found
  std::size_t decoded = 0;
  std::size_t skipped = 0;
  std::vector<std::string> skipped_examples;  // "path: reason", the first few in file order
  std::size_t folders_skipped = 0;            // unreadable, or reached a second time through a link
  std::vector<std::string> folder_examples;   // "path: reason", the first few

  std::string summary(const std::string& folder) const {
    std::string s = folder + ": " + std::to_string(decoded) + " images decoded";
    auto list = [&](std::size_t count, const std::vector<std::string>& examples, const char* what) {
      s += ", " + std::to_string(count) + what + " (";
      for (std::size_t i = 0; i < examples.size(); ++i) s += (i ? "; " : "") + examples[i];
      s += count > examples.size() ? "; ...)" : ")";
    };
    if (skipped > 0) list(skipped, skipped_examples, " skipped");
    if (folders_skipped > 0) list(folders_skipped, folder_examples, " folders not read");
    return s;
  }
};

inline bool has_image_extension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

// Image-named entries under `folder` that are not folders, sorted (regular files, and also
// dangling links or special files, which reading then skips with their reason). Folders that
// cannot be read, or whose real folder was entered already (a symlink loop, two links to one
// folder), are not entered; `report` (when given) counts and names them. Each folder's entries
// are taken in sorted order, so that of two ways into one folder the same one is entered on
// every filesystem (the order a folder lists its entries in is the filesystem's own).
inline std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& folder,
                                                          LoadReport* report = nullptr) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw DataError(folder.string() + ": not a folder (check the path given to --data or --val)");
  auto skip_folder = [&](const fs::path& path, const std::string& why) {
    if (report == nullptr) return;
    ++report->folders_skipped;
    if (report->folder_examples.size() < 3) report->folder_examples.push_back(path.string() + ": " + why);
  };
  std::set<std::pair<dev_t, ino_t>> entered;  // real folders, by device and inode
  struct stat info {};
  if (::stat(folder.c_str(), &info) == 0) entered.insert({info.st_dev, info.st_ino});
  std::vector<fs::path> files;
  std::vector<fs::path> pending{folder};  // folders to list, the next one last (depth first)
  while (!pending.empty()) {
    const fs::path dir = std::move(pending.back());
    pending.pop_back();
    std::vector<fs::directory_entry> entries;
    fs::directory_iterator it(dir, ec);
    if (ec) throw DataError(dir.string() + ": cannot list the folder: " + ec.message());
    for (const fs::directory_iterator end; it != end; it.increment(ec)) {
      if (ec) break;
      entries.push_back(*it);
    }
    // A listing that stopped early would silently shrink the data set.
    if (ec) throw DataError(dir.string() + ": listing stopped early: " + ec.message());
    std::sort(entries.begin(), entries.end(),
              [](const fs::directory_entry& a, const fs::directory_entry& b) { return a.path() < b.path(); });
    std::vector<fs::path> subfolders;
    for (const fs::directory_entry& entry : entries) {
      const fs::path& path = entry.path();
      std::error_code type_ec;
      if (entry.is_directory(type_ec)) {  // a folder, or a link to one
        if (::stat(path.c_str(), &info) != 0)
          skip_folder(path, std::strerror(errno));
        else if (!entered.insert({info.st_dev, info.st_ino}).second)
          skip_folder(path, "the same folder as one already read (a symlink loop or a second link)");
        else if (::access(path.c_str(), R_OK | X_OK) != 0)
          skip_folder(path, std::string("cannot be read (") + std::strerror(errno) + ")");
        else
          subfolders.push_back(path);
        continue;
      }
      if (has_image_extension(path)) files.push_back(path);
    }
    pending.insert(pending.end(), subfolders.rbegin(), subfolders.rend());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Reads a whole image file into `bytes`; returns an empty string, or why it cannot.
inline std::string read_file_bytes(const std::filesystem::path& path, std::vector<unsigned char>& bytes) {
  constexpr std::uintmax_t kMaxFile = 1u << 30;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))  // never open a FIFO or device: it could block
    return !std::filesystem::exists(path, ec) && std::filesystem::is_symlink(path, ec)
               ? "a link that leads nowhere (dangling, or a loop)"
               : "not a regular file";
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return "cannot read its size (" + ec.message() + ")";
  if (size > kMaxFile) return "file larger than 1 GiB";
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot open (") + std::strerror(errno) + ")";
  bytes.resize(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    return "read error";
  return {};
}

// Why a JPEG's Huffman tables would make stb_image go out of bounds, or an empty string.
// stb_image 2.27 (Debian 12's libstb) fills a 256-entry table with as many codes as a DHT segment
// declares, up to 16 x 255, and decodes a scan with a table never defined from uninitialised
// memory (both fixed upstream in 2.28; both found by tests/fuzz). This walks the file's
// segments as stb does (skipping stray bytes between them, and the entropy-coded data of each
// scan: progressive JPEGs define tables between scans) and leaves truncated files to stb, which
// rejects them itself.
inline std::string jpeg_table_problem(const std::vector<unsigned char>& b) {
  const std::size_t n = b.size();
  bool defined[2][4] = {};  // [DC, AC][table id]: stb leaves undefined tables uninitialised
  bool progressive = false;
  std::size_t i = 2;  // after SOI
  while (i + 1 < n) {
    if (b[i] != 0xFF) {  // stb skips bytes between segments to the next marker: so does this
      ++i;
      continue;
    }
    const unsigned marker = b[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD9) return {};  // end of image
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {  // no length
      i += 2;
      continue;
    }
    if (i + 4 > n) return {};
    const std::size_t length = (static_cast<std::size_t>(b[i + 2]) << 8) | b[i + 3];
    if (marker == 0xC4) {
      // DHT: {class/id, 16 counts, the codes} per table, read as stb reads them: table after
      // table while the declared length lasts, past the segment and the file's end (as zeros).
      auto byte = [&](std::size_t at) -> std::size_t { return at < n ? b[at] : 0; };
      std::ptrdiff_t left = static_cast<std::ptrdiff_t>(length) - 2;
      for (std::size_t p = i + 4; left > 0;) {
        const std::size_t kind = byte(p) >> 4, id = byte(p) & 15;
        if (kind > 1 || id > 3) return {};  // stb rejects it
        std::size_t codes = 0;
        for (int k = 1; k <= 16; ++k) codes += byte(p + k);
        if (codes > 256)
          return "corrupt JPEG: a Huffman table declares " + std::to_string(codes) + " codes (at most 256)";
        defined[kind][id] = true;
        p += 17 + codes;
        left -= static_cast<std::ptrdiff_t>(17 + codes);
      }
    }
    if (length < 2 || i + 2 + length > n) return {};
    if (marker == 0xC2) progressive = true;
    if (marker == 0xDA && i + 4 < n) {
      // Each component of a scan names its DC and AC tables; stb decodes with the ones this kind
      // of scan uses (a baseline scan both, a progressive first DC scan DC, an AC scan AC).
      const std::size_t components = b[i + 4];
      const std::size_t spectral = i + 5 + 2 * components;
      if (spectral + 2 >= n) return {};
      const bool dc_scan = b[spectral] == 0, refining = (b[spectral + 2] >> 4) != 0;
      for (std::size_t c = 0; c < components; ++c) {
        const std::size_t dc = b[i + 6 + 2 * c] >> 4, ac = b[i + 6 + 2 * c] & 15;
        if (dc > 3 || ac > 3) return {};  // stb rejects it
        const bool needs_dc = !progressive || (dc_scan && !refining);
        const bool needs_ac = !progressive || !dc_scan;
        if ((needs_dc && !defined[0][dc]) || (needs_ac && !defined[1][ac]))
          return "corrupt JPEG: a scan uses a Huffman table that was never defined";
      }
    }
    i += 2 + length;
    if (marker == 0xDA) {
      // Scan data runs to the next marker: 0xFF, any further 0xFF (fill), then a byte that is
      // neither 0 (a stuffed 0xFF in the data) nor a restart marker.
      while (i < n) {
        if (b[i] != 0xFF) {
          ++i;
          continue;
        }
        std::size_t j = i + 1;
        while (j < n && b[j] == 0xFF) ++j;
        if (j < n && b[j] != 0x00 && (b[j] < 0xD0 || b[j] > 0xD7)) {
          i = j - 1;  // at the marker's 0xFF
          break;
        }
        i = j + 1;
      }
    }
  }
  return {};
}

// stb's reason for a failure, printable: some reasons quote bytes of the file (a PNG chunk type).
inline std::string stb_reason() {
  std::string reason = stbi_failure_reason() ? stbi_failure_reason() : "unknown";
  for (char& c : reason)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
  return reason;
}

// Decodes one encoded image into side x side x 3 (HWC) bytes; returns an empty string on
// success, else the reason it cannot be used. Only JPEG and PNG reach stb (by their signature,
// whatever the file's name), so none of stb's other decoders runs on untrusted bytes.
inline std::string decode_image(const std::vector<unsigned char>& bytes, int side, std::uint8_t* out) {
  constexpr int kMaxSide = 16384;
  constexpr long long kMaxPixels = 64ll << 20;
  if (bytes.empty()) return "empty file";
  if (bytes.size() > (1u << 30)) return "file larger than 1 GiB";
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  const bool png = bytes.size() >= 8 && std::equal(kPng, kPng + 8, bytes.begin());
  const bool jpeg = bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
  if (!png && !jpeg) return "not a JPEG or PNG file (its first bytes are neither signature)";
  if (jpeg) {
    std::string problem = jpeg_table_problem(bytes);
    if (!problem.empty()) return problem;
  }
  int w = 0, h = 0, channels = 0;
  const int length = static_cast<int>(bytes.size());
  if (!stbi_info_from_memory(bytes.data(), length, &w, &h, &channels))
    return "not a decodable JPEG/PNG (" + stb_reason() + ")";
  if (w <= 0 || h <= 0 || w > kMaxSide || h > kMaxSide || static_cast<long long>(w) * h > kMaxPixels)
    return "image claims " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than allowed";
  // A whole file cannot be smaller than its pixels allow: a progressive JPEG's first DC scan takes
  // at least a bit per 8x8 block, deflate expands at most 1032-fold and a PNG row holds at least a
  // bit per pixel. A smaller file claiming that size is cut short or forged, and stb would decode
  // zeros into tens of megabytes (found by tests/fuzz: 264 bytes claiming 4096x8464).
  const long long pixels = static_cast<long long>(w) * h;
  const long long least = png ? pixels / 8 / 1032 : pixels / 64 / 8;
  if (static_cast<long long>(bytes.size()) < least)
    return std::to_string(bytes.size()) + " bytes cannot hold the " + std::to_string(w) + "x" + std::to_string(h) +
           " pixels the header claims (truncated or forged)";
  unsigned char* rgb = stbi_load_from_memory(bytes.data(), length, &w, &h, &channels, 3);
  if (rgb == nullptr) return "decoding failed (" + stb_reason() + ")";
  // Centre crop to a square, then resize to side x side.
  const int crop = std::min(w, h);
  const int x0 = (w - crop) / 2;
  const int y0 = (h - crop) / 2;
  const unsigned char* corner = rgb + (static_cast<std::size_t>(y0) * w + x0) * 3;
  int ok = 1;
  if (crop == side) {
    for (int y = 0; y < side; ++y)
      std::copy(corner + static_cast<std::size_t>(y) * w * 3, corner + static_cast<std::size_t>(y) * w * 3 + side * 3,
                out + static_cast<std::size_t>(y) * side * 3);
  } else {
    ok = stbir_resize_uint8(corner, crop, crop, w * 3, out, side, side, side * 3, 3);
  }
  stbi_image_free(rgb);
  return ok ? std::string() : std::string("resizing failed");
}

inline ImageSet load_image_folder(const std::filesystem::path& folder, int side, LoadReport& report,
                                  unsigned threads = std::max(1u, std::thread::hardware_concurrency())) {
  report = LoadReport{};
  const std::vector<std::filesystem::path> files = list_image_files(folder, &report);
  report.files = files.size();
  if (files.empty()) throw DataError(folder.string() + ": no .jpg, .jpeg or .png files found (searched recursively)");

  const std::size_t image_bytes = static_cast<std::size_t>(side) * side * 3;
  std::vector<std::uint8_t> pixels(files.size() * image_bytes);
  std::vector<std::string> failures(files.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&]() {
    std::vector<unsigned char> bytes;
    for (std::size_t i = next++; i < files.size(); i = next++) {
      try {
        failures[i] = read_file_bytes(files[i], bytes);
        if (failures[i].empty()) failures[i] = decode_image(bytes, side, pixels.data() + i * image_bytes);
      } catch (const std::exception& e) {  // an exception in a worker thread would end the program
        failures[i] = std::string("failed: ") + e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::min<std::size_t>(threads, files.size()); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();

  // Compact the decoded images to the front, in file order, without a second copy of the set.
  ImageSet set;
  set.side = side;
  set.pixels = std::move(pixels);
  std::size_t kept = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!failures[i].empty()) {
      ++report.skipped;
      if (report.skipped_examples.size() < 3) report.skipped_examples.push_back(files[i].string() + ": " + failures[i]);
      continue;
    }
    if (kept != i)
      std::copy_n(set.pixels.begin() + static_cast<std::ptrdiff_t>(i * image_bytes), image_bytes,
                  set.pixels.begin() + static_cast<std::ptrdiff_t>(kept * image_bytes));
    set.names.push_back(files[i].string());
    ++kept;
  }
  set.pixels.resize(kept * image_bytes);
  set.pixels.shrink_to_fit();
  report.decoded = set.count();
  if (set.count() == 0)
    throw DataError(folder.string() + ": none of its " + std::to_string(files.size()) +
                    " image files could be decoded (first: " + report.skipped_examples.front() + ")");
  return set;
}

}  // namespace strata::data
