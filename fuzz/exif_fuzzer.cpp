// SPDX-License-Identifier: AGPL-3.0-or-later
// EXIF / XMP / IPTC reading with exiv2 as the library runs it on every imported file (from an in-memory file,
// so the fuzzer never touches the disk), plus the date parsing of what it finds.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <exiv2/exiv2.hpp>
#include <string>

#include "library/media.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  Exiv2::XmpParser::initialize();
  Exiv2::LogMsg::setLevel(Exiv2::LogMsg::mute);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const int fd = memfd_create("exif-fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  std::size_t written = 0;
  while (written < size) {
    const auto n = ::write(fd, data + written, size - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  const auto exif = focal::library::detail::read_exif("/proc/self/fd/" + std::to_string(fd),
                                                      static_cast<std::int64_t>(size));
  ::close(fd);
  if (exif.date_time_original) {
    (void)focal::library::detail::parse_exif_time(*exif.date_time_original, exif.time_zone);
  }
  return 0;
}
