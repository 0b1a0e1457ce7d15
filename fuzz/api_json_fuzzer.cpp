// SPDX-License-Identifier: AGPL-3.0-or-later
// Every route of the library server's REST API with hostile JSON bodies, query strings and ids, on real
// services over a scratch data directory (ML off). Input: byte 0 picks the route, bytes 1-2 are the path
// ids, then "<query string>\n<body>". The caller is an admin, so administrative routes run too.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "http/form.h"
#include "services.h"

namespace {

struct World {
  std::filesystem::path dir;
  std::unique_ptr<focal::app::Services> services;
  std::unique_ptr<focal::server::Api> api;
  focal::server::Caller caller;
};

World& world() {
  static World instance;  // the fuzzer's fixture: one data directory for the whole run
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  auto& w = world();
  w.dir = std::filesystem::temp_directory_path() / ("focal-api-fuzz-" + std::to_string(getpid()));
  std::filesystem::remove_all(w.dir);
  focal::EnvMap env{{"FOCAL_DATA_DIR", w.dir.string()}, {"IMMICH_MACHINE_LEARNING_ENABLED", "false"}};
  auto config = focal::parse_focal_config(env);
  if (!config) return 1;
  auto services = focal::app::Services::open(*config, env);
  if (!services) return 1;
  w.services = std::move(*services);
  auto admin = w.services->auth().admin_sign_up("fuzz@example.com", "fuzzing password", "Fuzz");
  if (!admin) return 1;
  w.caller.user_id = admin->id;
  w.caller.is_admin = true;
  w.api = std::make_unique<focal::server::Api>(focal::app::build_api(*w.services, "fuzz"));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = world();
  if (!w.api || size < 3) return 0;
  const auto& routes = w.api->routes();
  const auto& route = routes[data[0] % routes.size()];
  if (route.pattern == "/api/libraries/:id/scan" || route.pattern == "/api/libraries")
    return 0;  // file system
  const std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
  const auto newline = rest.find('\n');
  focal::server::ApiRequest request;
  request.method = route.method;
  request.path = route.pattern;
  request.caller = w.caller;
  const int ids[] = {data[1] % 8, data[2] % 8};
  int next = 0;
  for (const auto& segment : route.segments) {
    if (!segment.empty() && segment.front() == ':')
      request.path_params[segment.substr(1)] = std::to_string(ids[next++ % 2]);
  }
  for (auto& [name, value] : focal::http::parse_urlencoded(rest.substr(0, newline))) {
    request.query.emplace(name, value);
  }
  const std::string body(newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1));
  request.body = body;
  try {
    (void)route.handler(request);
  } catch (const std::exception&) {
    // The HTTP front turns exceptions into 500s; a crash or a sanitizer report is what the fuzzer looks for.
  }
  return 0;
}
