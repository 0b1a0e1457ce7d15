# SPDX-License-Identifier: AGPL-3.0-or-later
# The web UI (web/, Preact + Vite): built into ${PROJECT_BINARY_DIR}/web, which `focal serve` serves
# (FOCAL_WEB_DIR) and the focal package installs to share/focal/web. Needs Node.js and web/node_modules
# (`npm ci`, done by scripts/bootstrap.sh); sanitizer builds skip it (nothing to sanitise).
if(FOCAL_SANITIZE OR FOCAL_TSAN)
  set(focal_web_default OFF)
else()
  set(focal_web_default ON)
endif()
option(FOCAL_WEB "Build the web UI (needs Node.js >= 20.19 and web/node_modules from npm ci)" ${focal_web_default})
set(FOCAL_WEB_PREBUILT "" CACHE PATH "An already built web UI to install instead of building web/ (container builds)")
set(FOCAL_WEB_OUTPUT "${PROJECT_BINARY_DIR}/web")
if(FOCAL_WEB_PREBUILT)
  install(DIRECTORY "${FOCAL_WEB_PREBUILT}/" DESTINATION ${CMAKE_INSTALL_DATADIR}/focal/web COMPONENT server)
  return()
endif()
if(NOT FOCAL_WEB)
  return()
endif()

find_program(FOCAL_NPM npm)
if(NOT FOCAL_NPM OR NOT EXISTS "${PROJECT_SOURCE_DIR}/web/node_modules")
  message(FATAL_ERROR "The web UI needs npm and web/node_modules: run scripts/bootstrap.sh (or `npm ci` in web/), "
                      "or configure with -DFOCAL_WEB=OFF to build without it")
endif()

file(GLOB_RECURSE focal_web_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/web/src/*"
     "${PROJECT_SOURCE_DIR}/web/public/*")
list(FILTER focal_web_sources EXCLUDE REGEX "\\.test\\.tsx?$")
add_custom_command(
  OUTPUT "${FOCAL_WEB_OUTPUT}/index.html"
  COMMAND ${CMAKE_COMMAND} -E env "FOCAL_WEB_OUT=${FOCAL_WEB_OUTPUT}" ${FOCAL_NPM} run --silent build
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}/web"
  DEPENDS ${focal_web_sources} "${PROJECT_SOURCE_DIR}/web/index.html" "${PROJECT_SOURCE_DIR}/web/package-lock.json"
          "${PROJECT_SOURCE_DIR}/web/vite.config.ts" "${PROJECT_SOURCE_DIR}/web/scripts/compress.mjs"
  COMMENT "Building the web UI (vite) into ${FOCAL_WEB_OUTPUT}"
  VERBATIM)
add_custom_target(focal_web ALL DEPENDS "${FOCAL_WEB_OUTPUT}/index.html")
install(DIRECTORY "${FOCAL_WEB_OUTPUT}/" DESTINATION ${CMAKE_INSTALL_DATADIR}/focal/web COMPONENT server)
