# SPDX-License-Identifier: AGPL-3.0-or-later
# Install rules and Debian packages (CPack), one package per binary:
#   focal-ml  bin/focal-ml, the bundled ONNX Runtime (lib/focal, found through the binary's $ORIGIN RPATH), its
#             systemd unit and environment file
#   focal     bin/focal, its systemd unit and environment file
# `cmake --install BUILD --prefix DIR` gives a relocatable tree; with the prefix /usr (the ci and package builds)
# the environment files go to /etc/focal as the packages expect. `cpack --config BUILD/CPackConfig.cmake` builds
# the .deb files; Depends: is computed by dpkg-shlibdeps. docs/install.md describes the result.
include(GNUInstallDirs)

set(FOCAL_PRIVATE_LIBDIR lib/focal)  # matches CMAKE_INSTALL_RPATH (cmake/onnxruntime.cmake)
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(FOCAL_CONFIG_DESTINATION /etc/focal)
else()
  set(FOCAL_CONFIG_DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/focal)
endif()
set(FOCAL_CONFIG_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)  # may hold API keys

install(TARGETS focal-ml RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ml)
install(TARGETS focal RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
if(FOCAL_ORT_BUNDLED)
  # The fetched library under its SONAME (the fetch leaves libonnxruntime.so.1 as a link to the real file).
  file(REAL_PATH "${FOCAL_ORT_LIBRARY}" focal_ort_file)
  install(FILES "${focal_ort_file}" DESTINATION ${FOCAL_PRIVATE_LIBDIR} RENAME libonnxruntime.so.1 COMPONENT ml)
  # A GPU build's provider libraries (scripts/fetch-onnxruntime.sh --gpu cuda), which ORT loads from its own
  # directory. They are a component of their own, outside the .deb files: the CUDA libraries they need are not
  # Debian packages, so dpkg-shlibdeps cannot resolve them. `cmake --install` and the CUDA image install them.
  file(GLOB focal_ort_providers "${FOCAL_ORT_ROOT}/lib/libonnxruntime_providers_*.so")
  if(focal_ort_providers)
    install(FILES ${focal_ort_providers} DESTINATION ${FOCAL_PRIVATE_LIBDIR} COMPONENT ml_gpu_providers)
  endif()
endif()

# Manual pages, generated from each binary's --help and --version by help2man (a build dependency; without it
# the install has no man pages and says so), with the sections in packaging/man/*.h2m. Sanitizer builds skip
# them: they are never packaged, and running an instrumented binary at build time only adds failure modes.
find_program(FOCAL_HELP2MAN help2man)
if(FOCAL_HELP2MAN AND NOT FOCAL_SANITIZE AND NOT FOCAL_TSAN)
  set(focal_man_pages)
  foreach(program_name IN ITEMS "focal-ml;Immich-compatible machine-learning service"
                                "focal;self-hosted photo library server")
    list(GET program_name 0 program)
    list(GET program_name 1 summary)
    set(page ${PROJECT_BINARY_DIR}/man/${program}.1)
    add_custom_command(
      OUTPUT ${page}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/man
      COMMAND ${FOCAL_HELP2MAN} --no-info --name=${summary} --include=${PROJECT_SOURCE_DIR}/packaging/man/${program}.h2m
              --output=${page} $<TARGET_FILE:${program}>
      COMMAND gzip -9nf ${page}
      DEPENDS ${program} ${PROJECT_SOURCE_DIR}/packaging/man/${program}.h2m
      COMMENT "Manual page ${program}(1)"
      VERBATIM)
    list(APPEND focal_man_pages ${page}.gz)
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${focal_man_pages})
  install(FILES ${PROJECT_BINARY_DIR}/man/focal-ml.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ml)
  install(FILES ${PROJECT_BINARY_DIR}/man/focal.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
elseif(NOT FOCAL_HELP2MAN)
  message(STATUS "help2man not found: no manual pages (scripts/bootstrap.sh installs it)")
endif()

# Debian wants the changelog gzipped in each package's doc folder.
set(FOCAL_CHANGELOG_GZ ${PROJECT_BINARY_DIR}/packaging/changelog.gz)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/packaging)
file(ARCHIVE_CREATE OUTPUT ${FOCAL_CHANGELOG_GZ} PATHS ${PROJECT_SOURCE_DIR}/packaging/debian/changelog FORMAT raw
     COMPRESSION GZip COMPRESSION_LEVEL 9)

foreach(component_package IN ITEMS "ml;focal-ml" "server;focal")
  list(GET component_package 0 component)
  list(GET component_package 1 package)
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA
      ${PROJECT_SOURCE_DIR}/packaging/debian/${package}/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/${package}/postinst
      ${PROJECT_SOURCE_DIR}/packaging/debian/${package}/postrm)
  install(FILES ${FOCAL_CHANGELOG_GZ} DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
  install(FILES packaging/debian/${package}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
          RENAME ${package} COMPONENT ${component})
  install(FILES packaging/systemd/${package}.service DESTINATION lib/systemd/system COMPONENT ${component})
  install(FILES packaging/${package}.env DESTINATION ${FOCAL_CONFIG_DESTINATION}
          PERMISSIONS ${FOCAL_CONFIG_PERMISSIONS} COMPONENT ${component})
  install(FILES README.md THIRD_PARTY.md docs/configuration.md docs/operations.md docs/security.md docs/install.md
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component})
  install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} RENAME copyright
          COMPONENT ${component})
endforeach()
install(FILES docs/search.md docs/people.md docs/openapi.yaml DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/focal
        COMPONENT server)
install(FILES docs/openapi-ml.yaml DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/focal-ml COMPONENT ml)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME focal)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "focal maintainers <maintainers@focal.invalid>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL ml server)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION graphics)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(FOCAL_ORT_BUNDLED)
  # dpkg-shlibdeps resolves the bundled library here; it belongs to the package itself.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${FOCAL_ORT_ROOT}/lib")
endif()
set(CPACK_DEBIAN_ML_PACKAGE_NAME focal-ml)
# The first line is the summary.
set(CPACK_DEBIAN_ML_DESCRIPTION "Immich-compatible machine-learning service
Smart Search (CLIP), face detection and recognition, and text in photos (OCR)
on ONNX Runtime, wire-compatible with Immich's machine-learning service
(port 3003).")
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME focal)
set(CPACK_DEBIAN_SERVER_DESCRIPTION "Self-hosted photo library server
Import, durable machine-learning jobs, smart, keyword and text-in-photo
search, people and duplicates, with a REST API and a CLI; uses focal-ml (or
Immich's machine-learning service) for inference.")
set(CPACK_DEBIAN_SERVER_PACKAGE_SUGGESTS focal-ml)
include(CPack)
