# SPDX-License-Identifier: AGPL-3.0-or-later
# FOCAL_ALLOCATOR picks the malloc linked into every focal binary (docs/operations.md#memory has the measurements):
#   glibc     the C library's malloc; focal calls malloc_trim(0) after unloading a model
#   mimalloc  Debian's libmimalloc-dev (overrides malloc/free when linked); mi_collect after unload
#   jemalloc  Debian's libjemalloc-dev (overrides malloc/free); arena purge after unload
set(FOCAL_ALLOCATOR "glibc" CACHE STRING "malloc implementation: glibc, mimalloc or jemalloc")
set_property(CACHE FOCAL_ALLOCATOR PROPERTY STRINGS glibc mimalloc jemalloc)
# Linked by focal_core; FOCAL_ALLOCATOR_DEFINE is compiled into core/memory.cpp only (so switching allocators
# rebuilds one file).
add_library(focal_allocator INTERFACE)
set(FOCAL_ALLOCATOR_DEFINE FOCAL_ALLOCATOR_GLIBC)
if(FOCAL_ALLOCATOR STREQUAL "mimalloc")
  find_package(mimalloc REQUIRED)
  target_link_libraries(focal_allocator INTERFACE mimalloc)
  set(FOCAL_ALLOCATOR_DEFINE FOCAL_ALLOCATOR_MIMALLOC)
elseif(FOCAL_ALLOCATOR STREQUAL "jemalloc")
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
  set_target_properties(PkgConfig::JEMALLOC PROPERTIES SYSTEM ON)
  target_link_libraries(focal_allocator INTERFACE PkgConfig::JEMALLOC)
  set(FOCAL_ALLOCATOR_DEFINE FOCAL_ALLOCATOR_JEMALLOC)
elseif(NOT FOCAL_ALLOCATOR STREQUAL "glibc")
  message(FATAL_ERROR "FOCAL_ALLOCATOR must be glibc, mimalloc or jemalloc, not '${FOCAL_ALLOCATOR}'")
endif()
