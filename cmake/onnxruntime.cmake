# SPDX-License-Identifier: AGPL-3.0-or-later
# Provides the imported target onnxruntime::onnxruntime.
# Order: a system ONNX Runtime (CMake config, then pkg-config), then the pinned prefix that
# scripts/fetch-onnxruntime.sh fills (FOCAL_ORT_ROOT, default .deps/onnxruntime).
# The environment variable of the same name (scripts/bootstrap.sh, the accelerator images) gives the default.
if(DEFINED ENV{FOCAL_ORT_ROOT})
  set(focal_ort_root_default "$ENV{FOCAL_ORT_ROOT}")
else()
  set(focal_ort_root_default "${PROJECT_SOURCE_DIR}/.deps/onnxruntime")
endif()
set(FOCAL_ORT_ROOT "${focal_ort_root_default}" CACHE PATH "Prefix of the fetched or self-built ONNX Runtime")
set(FOCAL_ORT_BUNDLED OFF)  # ON: the fetched library is installed with focal-ml (cmake/packaging.cmake)

find_package(onnxruntime CONFIG QUIET)
if(onnxruntime_FOUND AND TARGET onnxruntime::onnxruntime)
  message(STATUS "ONNX Runtime: system CMake package ${onnxruntime_DIR}")
  return()
endif()

pkg_check_modules(SYSTEM_ORT QUIET IMPORTED_TARGET libonnxruntime)
if(SYSTEM_ORT_FOUND)
  message(STATUS "ONNX Runtime: system pkg-config ${SYSTEM_ORT_VERSION}")
  add_library(onnxruntime::onnxruntime ALIAS PkgConfig::SYSTEM_ORT)
  return()
endif()

find_path(FOCAL_ORT_INCLUDE_DIR onnxruntime_cxx_api.h PATHS "${FOCAL_ORT_ROOT}/include" NO_DEFAULT_PATH)
find_library(FOCAL_ORT_LIBRARY onnxruntime PATHS "${FOCAL_ORT_ROOT}/lib" NO_DEFAULT_PATH)
if(NOT FOCAL_ORT_INCLUDE_DIR OR NOT FOCAL_ORT_LIBRARY)
  message(FATAL_ERROR "ONNX Runtime not found. Run scripts/fetch-onnxruntime.sh (or scripts/bootstrap.sh), "
                      "install a system ONNX Runtime, or set FOCAL_ORT_ROOT. See docs/onnxruntime.md.")
endif()
message(STATUS "ONNX Runtime: ${FOCAL_ORT_LIBRARY}")
add_library(onnxruntime::onnxruntime SHARED IMPORTED GLOBAL)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
  IMPORTED_LOCATION "${FOCAL_ORT_LIBRARY}"
  IMPORTED_SONAME "libonnxruntime.so.1"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${FOCAL_ORT_INCLUDE_DIR}"
  INTERFACE_INCLUDE_DIRECTORIES "${FOCAL_ORT_INCLUDE_DIR}")
# Binaries find the fetched library through their RPATH, in the build tree and installed; no LD_LIBRARY_PATH.
set(FOCAL_ORT_BUNDLED ON)
set(CMAKE_BUILD_RPATH "${FOCAL_ORT_ROOT}/lib")
set(CMAKE_INSTALL_RPATH "$ORIGIN/../lib/focal")
