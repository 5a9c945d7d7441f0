// strata/io/atomic_file.hpp: writing a file so that readers see the old one or the new one, never
// half of either.
//
// The bytes go to "<path>.tmp", are flushed to disk (fsync), and the temp file is renamed over
// the path; the folder is synced so the rename itself survives a crash. Any failure (a full
// disk, an unwritable folder) throws with the path and the system's reason, removes the temp
// file, and leaves the previous file untouched.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>

namespace strata::io {

class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline std::string system_reason() { return std::strerror(errno); }

inline void write_file_atomically(const std::filesystem::path& path, std::span<const unsigned char> bytes) {
  const std::filesystem::path temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw FileError("cannot create " + temp.string() + ": " + system_reason());
  auto fail = [&](const std::string& what) {
    const std::string reason = system_reason();
    ::close(fd);
    ::unlink(temp.c_str());
    throw FileError(what + " " + temp.string() + ": " + reason);
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("cannot flush");
  if (::close(fd) != 0) {
    const std::string reason = system_reason();
    ::unlink(temp.c_str());
    throw FileError("cannot close " + temp.string() + ": " + reason);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = system_reason();
    ::unlink(temp.c_str());
    throw FileError("cannot rename " + temp.string() + " to " + path.string() + ": " + reason);
  }
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // best effort: some file systems refuse to sync folders
    ::close(dir);
  }
}

}  // namespace strata::io
