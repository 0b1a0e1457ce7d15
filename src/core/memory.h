// SPDX-License-Identifier: AGPL-3.0-or-later
// Process memory: resident set size, and handing freed heap memory back to the operating system after a
// model is unloaded (glibc keeps freed arenas mapped until asked; mimalloc/jemalloc purge lazily).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace focal {

// Resident set size from /proc/self/statm; nullopt where that file is unavailable.
std::optional<std::uint64_t> resident_memory_bytes();

// Returns free heap memory to the OS with the linked allocator's own call (malloc_trim, mi_collect, jemalloc
// arena purge). Cheap enough to call after each unload, too slow for a request path.
void release_free_memory();

// glibc's malloc, tuned for a server of large short-lived buffers (decoded images, tensors of a few MiB). No
// effect with mimalloc or jemalloc; each setting is left alone when the user made it (MALLOC_ARENA_MAX,
// MALLOC_MMAP_THRESHOLD_, or GLIBC_TUNABLES naming it). Call before starting threads.
struct AllocatorTuning {
  // glibc gives every thread that allocates concurrently a heap arena of its own (up to 8 per core) and keeps
  // what is freed in each; with many worker threads taking turns on large buffers that fragmentation grows RSS
  // request after request. Capped at this many (at least 1).
  int arenas = 2;
  // Blocks at least this large are mapped on their own and unmapped when freed. glibc otherwise raises the
  // threshold to the largest block freed so far (up to 32 MiB), after which buffers of a few MiB come from the
  // heap and stay there: measured in docs/BENCHMARKS.md, RSS after a faces load grew 10x. 0: glibc's default.
  std::size_t mmap_threshold = 0;
};
void tune_allocator(const AllocatorTuning& tuning);

// The allocator this binary was linked with: "glibc", "mimalloc" or "jemalloc" (CMake FOCAL_ALLOCATOR).
std::string_view allocator_name();

}  // namespace focal
