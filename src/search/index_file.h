// SPDX-License-Identifier: AGPL-3.0-or-later
// The saved vector index format: its constants and header, and the hashing file writer and reader.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace focal::search::detail {

// Layout (little-endian, the hosts focal runs on): FileHeader, model bytes, u64 fingerprint length,
// fingerprint bytes, hnswlib's level-0 block (elements × size_data_per_element), then per element a u32 byte
// count and its upper-level link lists, and last a SHA-256 of every byte before it.
static_assert(std::endian::native == std::endian::little, "index files are written little-endian");

inline constexpr std::array<char, 8> kFileMagic{'F', 'O', 'C', 'A', 'L', 'H', 'N', 'S'};
inline constexpr std::uint32_t kFileFormatVersion = 1;
inline constexpr std::size_t kDigestBytes = 32;
inline constexpr std::uint32_t kMaxModelBytes = 1024;
inline constexpr std::uint64_t kMaxFingerprintBytes = std::uint64_t{1} << 30;
inline constexpr int kMaxGraphLevel = 64;  // hnswlib draws levels ~ log_M(n): real graphs stay far below
inline constexpr std::size_t kMaxM = 1024;
inline constexpr std::size_t kIoChunk = std::size_t{1} << 20;
inline constexpr std::uint64_t kMaxElements = std::numeric_limits<std::uint32_t>::max();  // hnswlib::tableint

struct FileHeader {
  std::array<char, 8> magic{};
  std::uint32_t version = 0;
  std::uint32_t flags = 0;  // none defined
  std::uint64_t dimension = 0;
  std::uint64_t live = 0;      // vectors not marked deleted
  std::uint64_t elements = 0;  // hnswlib's cur_element_count (live + deleted)
  std::uint64_t m = 0;
  std::uint64_t size_data_per_element = 0;
  std::uint64_t size_links_per_element = 0;
  std::int32_t max_level = 0;
  std::uint32_t entry_point = 0;
  std::uint32_t model_bytes = 0;
  std::uint32_t reserved = 0;
};
static_assert(std::is_trivially_copyable_v<FileHeader> && sizeof(FileHeader) == 80);

// hnswlib's layout for a graph of this shape (what the constructor computes), to reject files of another
// hnswlib build or a forged header before anything is allocated from it.
// (Defined in hnsw_index.cpp, the one file that includes hnswlib: its header defines non-inline functions.)
std::uint64_t level0_bytes(std::uint64_t m, std::uint64_t dimension);
std::uint64_t upper_level_bytes(std::uint64_t m);

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  Expected<std::array<unsigned char, kDigestBytes>> finish();

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
  bool ok_ = false;
};

// Buffered, hashing writer on a file descriptor it owns.
class IndexFileWriter {
 public:
  IndexFileWriter(int fd, std::filesystem::path path);
  ~IndexFileWriter();
  IndexFileWriter(const IndexFileWriter&) = delete;
  IndexFileWriter& operator=(const IndexFileWriter&) = delete;

  Status write(const void* data, std::size_t size);
  template <class T>
  Status write_pod(const T& value) {
    return write(&value, sizeof(value));
  }
  // Appends the digest of everything written, then flushes, fsyncs and closes.
  Status finish();

 private:
  Status put(const void* data, std::size_t size);
  Status flush();
  Status write_all(const char* data, std::size_t size);
  Error failure(const char* what) const;

  int fd_;
  std::filesystem::path path_;
  std::vector<char> buffer_;
  Sha256 hash_;
};

// Hashing reader that never reads past the payload (the file size minus the digest).
class IndexFileReader {
 public:
  IndexFileReader(std::ifstream& in, std::uint64_t payload_bytes) : in_(in), remaining_(payload_bytes) {}
  std::uint64_t remaining() const { return remaining_; }
  Status read(void* out, std::uint64_t size, const char* what);
  template <class T>
  Status read_pod(T& value, const char* what) {
    return read(&value, sizeof(value), what);
  }
  // Compares the digest stored after the payload with the one of the bytes read.
  Status verify();
  // After a structural error while reading: hashes the rest, so that a damaged file is reported as corrupt
  // rather than by whichever field the damage happened to hit first. OK when the digest was already checked.
  Status verify_rest();

 private:
  std::ifstream& in_;
  std::uint64_t remaining_;
  bool verified_ = false;
  Sha256 hash_;
};

}  // namespace focal::search::detail
