// SPDX-License-Identifier: AGPL-3.0-or-later
// The saved vector index format: SHA-256 and the hashing file writer and reader.
#include "search/index_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "core/storage.h"

namespace focal::search::detail {

// --- Sha256 ---

Sha256::Sha256() : context_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
  ok_ = context_ && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
}

void Sha256::update(const void* data, std::size_t size) {
  if (ok_ && size > 0) ok_ = EVP_DigestUpdate(context_.get(), data, size) == 1;
}

Expected<std::array<unsigned char, kDigestBytes>> Sha256::finish() {
  std::array<unsigned char, kDigestBytes> digest{};
  unsigned int length = 0;
  if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1 || length != kDigestBytes)
    return internal_error("SHA-256 (OpenSSL) failed");
  return digest;
}

// --- IndexFileWriter ---

IndexFileWriter::IndexFileWriter(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {
  buffer_.reserve(kIoChunk);
}

IndexFileWriter::~IndexFileWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status IndexFileWriter::write(const void* data, std::size_t size) {
  hash_.update(data, size);
  return put(data, size);
}

Status IndexFileWriter::finish() {
  auto digest = hash_.finish();
  if (!digest) return digest.error();
  if (Status ok = put(digest->data(), digest->size()); !ok) return ok;
  if (Status ok = flush(); !ok) return ok;
  if (::fsync(fd_) != 0) return failure("fsync");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return failure("close");
  return {};
}

Status IndexFileWriter::put(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  if (buffer_.size() + size > kIoChunk) {
    if (Status ok = flush(); !ok) return ok;
    if (size >= kIoChunk) return write_all(bytes, size);
  }
  buffer_.insert(buffer_.end(), bytes, bytes + size);
  return {};
}

Status IndexFileWriter::flush() {
  Status ok = write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
  return ok;
}

Status IndexFileWriter::write_all(const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = ::write(fd_, data, std::min(size, kIoChunk * 64));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return failure("write");
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return {};
}

Error IndexFileWriter::failure(const char* what) const {
  return storage_error(std::string("Writing vector index: ") + what,
                       std::error_code(errno, std::generic_category()), path_);
}

// --- IndexFileReader ---

Status IndexFileReader::read(void* out, std::uint64_t size, const char* what) {
  if (size > remaining_)
    return bad_request(std::string("truncated: ") + what + " needs " + std::to_string(size) +
                       " bytes, the file has " + std::to_string(remaining_) + " left");
  auto* bytes = static_cast<char*>(out);
  for (std::uint64_t done = 0; done < size;) {
    const auto step = static_cast<std::streamsize>(std::min<std::uint64_t>(size - done, kIoChunk * 64));
    if (!in_.read(bytes + done, step)) return bad_request(std::string("read error in ") + what);
    done += static_cast<std::uint64_t>(step);
  }
  hash_.update(out, size);
  remaining_ -= size;
  return {};
}

Status IndexFileReader::verify() {
  if (remaining_ != 0) return bad_request(std::to_string(remaining_) + " unexpected bytes after the graph");
  verified_ = true;
  std::array<unsigned char, kDigestBytes> stored{};
  if (!in_.read(reinterpret_cast<char*>(stored.data()), kDigestBytes))
    return bad_request("read error in the checksum");
  auto computed = hash_.finish();
  if (!computed) return computed.error();
  if (*computed != stored) return bad_request("checksum mismatch (the file is corrupt)");
  return {};
}

Status IndexFileReader::verify_rest() {
  if (verified_) return {};
  std::vector<char> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, kIoChunk)));
  while (remaining_ > 0)
    if (Status ok = read(scratch.data(), std::min<std::uint64_t>(remaining_, scratch.size()), "payload"); !ok)
      return ok;
  return verify();
}

}  // namespace focal::search::detail
