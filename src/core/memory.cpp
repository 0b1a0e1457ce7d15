// SPDX-License-Identifier: AGPL-3.0-or-later
#include "core/memory.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string_view>

#if defined(FOCAL_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#elif defined(FOCAL_ALLOCATOR_JEMALLOC)
#include <jemalloc/jemalloc.h>

#include <string>
#else
#include <malloc.h>
#endif

namespace focal {

std::optional<std::uint64_t> resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return std::nullopt;
  return resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

void release_free_memory() {
#if defined(FOCAL_ALLOCATOR_MIMALLOC)
  mi_collect(true);
#elif defined(FOCAL_ALLOCATOR_JEMALLOC)
  // MALLCTL_ARENAS_ALL (4096) purges every arena's dirty pages.
  const std::string purge = "arena.4096.purge";
  mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0);
#else
  malloc_trim(0);
#endif
}

void tune_allocator(const AllocatorTuning& tuning) {
#if !defined(FOCAL_ALLOCATOR_MIMALLOC) && !defined(FOCAL_ALLOCATOR_JEMALLOC)
  const char* tunables_env = std::getenv("GLIBC_TUNABLES");
  const std::string_view tunables = tunables_env != nullptr ? tunables_env : "";
  auto user_set = [&](const char* variable, std::string_view tunable) {
    return std::getenv(variable) != nullptr || tunables.find(tunable) != std::string_view::npos;
  };
  if (!user_set("MALLOC_ARENA_MAX", "glibc.malloc.arena_max"))
    mallopt(M_ARENA_MAX, std::max(tuning.arenas, 1));
  if (tuning.mmap_threshold > 0 && !user_set("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold")) {
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(tuning.mmap_threshold, 32U << 20)));
  }
#else
  (void)tuning;
#endif
}

std::string_view allocator_name() {
#if defined(FOCAL_ALLOCATOR_MIMALLOC)
  return "mimalloc";
#elif defined(FOCAL_ALLOCATOR_JEMALLOC)
  return "jemalloc";
#else
  return "glibc";
#endif
}

}  // namespace focal
