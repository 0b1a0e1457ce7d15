// SPDX-License-Identifier: AGPL-3.0-or-later
// Process memory: resident set size, and handing freed heap memory back to the operating system after a
// model is unloaded (glibc keeps freed arenas mapped until asked; mimalloc/jemalloc purge lazily).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace focal {

// Resident set size from /proc/self/statm; nullopt where that file is unavailable.
std::optional<std::uint64_t> resident_memory_bytes();

// Returns free heap memory to the OS with the linked allocator's own call (malloc_trim, mi_collect, jemalloc
// arena purge). Cheap enough to call after each unload, too slow for a request path.
void release_free_memory();

// glibc gives every thread that allocates concurrently a heap arena of its own (up to 8 per core) and keeps
// what is freed in each; with many worker threads taking turns on large image buffers that fragmentation
// grows RSS request after request. Caps the arenas at `arenas` (at least 1) unless MALLOC_ARENA_MAX is set
// (the user's choice wins); no effect with mimalloc or jemalloc. Call before starting threads.
void limit_allocator_arenas(int arenas);

// The allocator this binary was linked with: "glibc", "mimalloc" or "jemalloc" (CMake FOCAL_ALLOCATOR).
std::string_view allocator_name();

}  // namespace focal
