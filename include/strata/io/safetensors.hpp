// strata/io/safetensors.hpp: the safetensors format, read with full validation, written atomically.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value", ...}}
// then the raw little-endian tensor data; offsets are relative to the end of the header. PyTorch
// (safetensors.torch.load_file) and numpy read these files.
//
// The reader trusts nothing: the header length against the file size, the JSON, every dtype and
// shape, that each tensor's byte range matches its shape, lies inside the file, overlaps no
// other, and that the ranges cover the data exactly. Errors name the file and the tensor.
//
// strata's writer also records a 64-bit checksum of the data section and of the other metadata
// entries ("data_checksum"); the reader checks it when present, so bytes damaged after writing (a
// bad disk, a partial copy that kept the size) are found instead of loaded, in the tensors or in
// the metadata a checkpoint keeps its state in. Files from other writers have none and are read
// as they are (strata's checkpoint loader requires it).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "strata/core/random.hpp"
#include "strata/io/atomic_file.hpp"
#include "strata/io/json.hpp"

namespace strata::io {

static_assert(std::endian::native == std::endian::little,
              "strata's safetensors code assumes a little-endian host, as the format does");

class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct TensorRecord {
  std::string name;
  std::string dtype;                 // "F32", "F64", "I64", "U8", ...
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;           // byte offsets into the data section
  std::uint64_t end = 0;

  std::uint64_t element_count() const {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
  }
};

// A checksum of a byte stream fed in pieces: 8-byte little-endian words through mix64, then the
// length. It finds damage, not forgery.
class DataChecksum {
 public:
  void add(const unsigned char* bytes, std::size_t n) {
    length_ += n;
    while (n > 0 && filled_ != 0) {  // complete a word begun by the previous piece
      take(*bytes++);
      --n;
    }
    for (; n >= 8; n -= 8, bytes += 8) {
      std::uint64_t word;
      std::memcpy(&word, bytes, 8);
      state_ = mix64(state_ ^ word);
    }
    while (n-- > 0) take(*bytes++);
  }
  std::string text() const {
    std::uint64_t state = state_;
    if (filled_ != 0) state = mix64(state ^ word_);
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(mix64(state ^ length_)));
    return out;
  }

 private:
  void take(unsigned char byte) {
    word_ |= static_cast<std::uint64_t>(byte) << (8 * filled_);
    if (++filled_ == 8) {
      state_ = mix64(state_ ^ word_);
      word_ = 0;
      filled_ = 0;
    }
  }
  std::uint64_t state_ = 0x5a17a5a17a5a17a5ull, word_ = 0, length_ = 0;
  int filled_ = 0;
};

inline constexpr const char* kChecksumKey = "data_checksum";

// A file's checksum covers its data section, then every metadata entry but the checksum itself,
// in key order (each key and value followed by a zero byte).
inline void add_metadata(DataChecksum& checksum, const std::map<std::string, std::string>& metadata) {
  const unsigned char zero = 0;
  for (const auto& [key, value] : metadata) {
    if (key == kChecksumKey) continue;
    checksum.add(reinterpret_cast<const unsigned char*>(key.data()), key.size());
    checksum.add(&zero, 1);
    checksum.add(reinterpret_cast<const unsigned char*>(value.data()), value.size());
    checksum.add(&zero, 1);
  }
}

// Bytes per element of a dtype name, or 0 for an unknown one.
inline int dtype_size(std::string_view dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "U8" || dtype == "I8" || dtype == "BOOL") return 1;
  return 0;
}

class SafetensorsFile {
 public:
  std::string origin;                          // the file name, for messages
  std::map<std::string, std::string> metadata;
  std::vector<TensorRecord> tensors;           // in file order

  const TensorRecord* find(std::string_view name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }

  // A tensor's values as float; it must be F32 with `expected_shape` (when given).
  std::vector<float> floats(std::string_view name, const std::vector<std::int64_t>* expected_shape = nullptr) const {
    std::vector<float> out;
    read_floats(name, out, expected_shape);
    return out;
  }

  void read_floats(std::string_view name, std::vector<float>& out,
                   const std::vector<std::int64_t>* expected_shape = nullptr) const {
    const TensorRecord& t = require(name);
    if (t.dtype != "F32")
      throw FormatError(origin + ": tensor '" + t.name + "' has dtype " + t.dtype + ", expected F32");
    if (expected_shape != nullptr && t.shape != *expected_shape)
      throw FormatError(origin + ": tensor '" + t.name + "' has shape " + shape_text(t.shape) + ", expected " +
                        shape_text(*expected_shape));
    out.resize(t.element_count());
    if (!out.empty()) std::memcpy(out.data(), data_.data() + t.begin, out.size() * sizeof(float));
  }

  // A U8 tensor's bytes (a view into the file's data, valid while the file lives).
  std::span<const std::uint8_t> bytes_u8(std::string_view name) const {
    const TensorRecord& t = require(name);
    if (t.dtype != "U8") throw FormatError(origin + ": tensor '" + t.name + "' has dtype " + t.dtype + ", expected U8");
    return {data_.data() + t.begin, static_cast<std::size_t>(t.end - t.begin)};
  }

  // An F64 or F32 tensor's values as double.
  std::vector<double> doubles(std::string_view name) const {
    const TensorRecord& t = require(name);
    std::vector<double> out(t.element_count());
    if (t.dtype == "F64") {
      if (!out.empty()) std::memcpy(out.data(), data_.data() + t.begin, out.size() * sizeof(double));
    } else if (t.dtype == "F32") {
      const std::vector<float> f = floats(name);
      std::copy(f.begin(), f.end(), out.begin());
    } else {
      throw FormatError(origin + ": tensor '" + t.name + "' has dtype " + t.dtype + ", expected F64 or F32");
    }
    return out;
  }

  const TensorRecord& require(std::string_view name) const {
    const TensorRecord* t = find(name);
    if (t == nullptr) throw FormatError(origin + ": tensor '" + std::string(name) + "' is missing");
    return *t;
  }

  std::optional<std::string> meta(const std::string& key) const {
    auto it = metadata.find(key);
    if (it == metadata.end()) return std::nullopt;
    return it->second;
  }

  static std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

  friend SafetensorsFile parse_safetensors(std::vector<unsigned char> bytes, const std::string& origin);

 private:
  std::vector<unsigned char> data_;  // the data section
};

// Parses and validates a whole file's bytes. Throws FormatError naming `origin`.
inline SafetensorsFile parse_safetensors(std::vector<unsigned char> bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) -> void { throw FormatError(origin + ": " + what); };
  constexpr std::uint64_t kMaxHeader = 100u << 20;  // the format's own limit
  if (bytes.size() < 8) fail("file too short for a safetensors header (" + std::to_string(bytes.size()) + " bytes)");
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > kMaxHeader || header_size > bytes.size() - 8)
    fail("header length " + std::to_string(header_size) + " does not fit in the file of " +
         std::to_string(bytes.size()) + " bytes (truncated or not a safetensors file)");
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8), header_size);
  JsonValue root;
  try {
    root = parse_json(header);
  } catch (const JsonError& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (root.kind != JsonValue::Kind::object) fail("header is not a JSON object");

  SafetensorsFile file;
  file.origin = origin;
  const std::uint64_t data_size = bytes.size() - 8 - header_size;
  for (const auto& [name, value] : *root.object) {
    if (name == "__metadata__") {
      if (value.kind != JsonValue::Kind::object) fail("__metadata__ is not an object");
      for (const auto& [k, v] : *value.object) {
        if (v.kind != JsonValue::Kind::string) fail("__metadata__ value '" + k + "' is not a string");
        file.metadata[k] = v.string;
      }
      continue;
    }
    const std::string where = "tensor '" + name + "': ";
    if (value.kind != JsonValue::Kind::object) fail(where + "entry is not an object");
    const JsonObject& entry = *value.object;
    auto dtype = entry.find("dtype");
    auto shape = entry.find("shape");
    auto offsets = entry.find("data_offsets");
    if (dtype == entry.end() || dtype->second.kind != JsonValue::Kind::string) fail(where + "missing dtype");
    if (shape == entry.end() || shape->second.kind != JsonValue::Kind::array) fail(where + "missing shape");
    if (offsets == entry.end() || offsets->second.kind != JsonValue::Kind::array || offsets->second.array->size() != 2)
      fail(where + "data_offsets must be [begin, end]");
    TensorRecord t;
    t.name = name;
    t.dtype = dtype->second.string;
    const int element = dtype_size(t.dtype);
    if (element == 0) fail(where + "unknown dtype '" + t.dtype + "'");
    std::uint64_t count = 1;
    for (const JsonValue& d : *shape->second.array) {
      if (d.kind != JsonValue::Kind::integer || d.integer < 0) fail(where + "shape entries must be integers >= 0");
      if (d.integer > 0 && count > (std::uint64_t{1} << 40) / static_cast<std::uint64_t>(d.integer))
        fail(where + "shape is impossibly large");
      count *= static_cast<std::uint64_t>(d.integer);
      t.shape.push_back(d.integer);
    }
    for (const JsonValue& o : *offsets->second.array)
      if (o.kind != JsonValue::Kind::integer || o.integer < 0) fail(where + "data_offsets must be integers >= 0");
    t.begin = static_cast<std::uint64_t>((*offsets->second.array)[0].integer);
    t.end = static_cast<std::uint64_t>((*offsets->second.array)[1].integer);
    if (t.end < t.begin) fail(where + "data_offsets end before they begin");
    if (t.end > data_size)
      fail(where + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
           "] point outside the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
    if (t.end - t.begin != count * static_cast<std::uint64_t>(element))
      fail(where + "holds " + std::to_string(t.end - t.begin) + " bytes but its shape " +
           SafetensorsFile::shape_text(t.shape) + " of " + t.dtype + " needs " +
           std::to_string(count * static_cast<std::uint64_t>(element)));
    file.tensors.push_back(std::move(t));
  }
  // The byte ranges must tile the data section: no overlap, no hole, nothing trailing.
  std::vector<const TensorRecord*> by_offset;
  for (const auto& t : file.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  std::uint64_t cursor = 0;
  for (const TensorRecord* t : by_offset) {
    if (t->begin < cursor) fail("tensor '" + t->name + "' overlaps the tensor before it");
    if (t->begin > cursor) fail("a gap of unused bytes precedes tensor '" + t->name + "'");
    cursor = t->end;
  }
  if (cursor != data_size)
    fail(std::to_string(data_size - cursor) + " bytes after the last tensor belong to none (corrupt file?)");
  std::sort(file.tensors.begin(), file.tensors.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  if (const auto recorded = file.meta(kChecksumKey)) {
    DataChecksum checksum;
    checksum.add(bytes.data() + 8 + header_size, data_size);
    add_metadata(checksum, file.metadata);
    if (checksum.text() != *recorded)
      fail("the data does not match its checksum (the file was damaged or changed after it was written)");
  }

  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(8 + header_size));
  file.data_ = std::move(bytes);
  return file;
}

inline SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FileError("cannot open " + path.string() + ": " + system_reason());
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw FileError("cannot read the size of " + path.string() + ": " + ec.message());
  std::vector<unsigned char> bytes(size);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw FileError("cannot read " + path.string());
  return parse_safetensors(std::move(bytes), path.string());
}

// A tensor to write: F32 from `values`, or F64 from `doubles`, or U8 from `bytes_u8`, whichever is set.
struct TensorToWrite {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> values;
  std::span<const double> doubles{};
  std::span<const std::uint8_t> bytes_u8{};

  const char* dtype() const { return !doubles.empty() ? "F64" : !bytes_u8.empty() ? "U8" : "F32"; }
  std::size_t count() const { return !doubles.empty() ? doubles.size() : !bytes_u8.empty() ? bytes_u8.size() : values.size(); }
  std::size_t bytes() const {
    return !doubles.empty() ? doubles.size_bytes() : !bytes_u8.empty() ? bytes_u8.size() : values.size_bytes();
  }
  const void* data() const {
    if (!doubles.empty()) return doubles.data();
    if (!bytes_u8.empty()) return bytes_u8.data();
    return values.data();
  }
};

inline std::vector<unsigned char> encode_safetensors(std::span<const TensorToWrite> tensors,
                                                     std::map<std::string, std::string> metadata = {}) {
  DataChecksum checksum;
  for (const TensorToWrite& t : tensors) checksum.add(static_cast<const unsigned char*>(t.data()), t.bytes());
  metadata.erase(kChecksumKey);
  add_metadata(checksum, metadata);
  metadata[kChecksumKey] = checksum.text();
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      header += (first ? "" : ",") + json_quote(k) + ":" + json_quote(v);
      first = false;
    }
    header += "}";
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorToWrite& t = tensors[i];
    std::uint64_t count = 1;
    for (auto d : t.shape) count *= static_cast<std::uint64_t>(d);
    if (count != t.count())
      throw std::invalid_argument("encode_safetensors: tensor '" + t.name + "' has " + std::to_string(t.count()) +
                                  " values but its shape holds " + std::to_string(count));
    header += (metadata.empty() && i == 0 ? "" : ",") + json_quote(t.name) + ":{\"dtype\":\"" + t.dtype() +
              "\",\"shape\":[";
    for (std::size_t d = 0; d < t.shape.size(); ++d) header += (d ? "," : "") + std::to_string(t.shape[d]);
    const std::uint64_t end = offset + t.bytes();
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';  // keeps the data 8-byte aligned, as the format suggests

  std::vector<unsigned char> bytes(8 + header.size() + offset);
  const std::uint64_t header_size = header.size();
  std::memcpy(bytes.data(), &header_size, 8);
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  unsigned char* data = bytes.data() + 8 + header.size();
  for (const TensorToWrite& t : tensors) {
    if (t.bytes() > 0) std::memcpy(data, t.data(), t.bytes());
    data += t.bytes();
  }
  return bytes;
}

// Writes atomically (temp file, fsync, rename): an existing file is replaced whole or not at all.
inline void write_safetensors(const std::filesystem::path& path, std::span<const TensorToWrite> tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const std::vector<unsigned char> bytes = encode_safetensors(tensors, metadata);
  write_file_atomically(path, bytes);
}

}  // namespace strata::io
