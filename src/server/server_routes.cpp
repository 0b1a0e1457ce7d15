// SPDX-License-Identifier: AGPL-3.0-or-later
// Server information (ping, version, Immich's feature flags from the system config), the system config and
// the ML services' health.
#include <charconv>

#include "server/routes.h"
#include "settings/settings.h"

namespace focal::server {
namespace {

using nlohmann::json;

json version_json(const std::string& version) {
  int parts[3] = {0, 0, 0};
  std::size_t start = 0;
  for (int& part : parts) {
    const auto end = std::min(version.find('.', start), version.size());
    std::from_chars(version.data() + start, version.data() + end, part);
    if (end == version.size()) break;
    start = end + 1;
  }
  return {{"major", parts[0]}, {"minor", parts[1]}, {"patch", parts[2]}};
}

json features_json(const settings::SystemConfig& config) {
  return {{"smartSearch", settings::smart_search_enabled(config)},
          {"facialRecognition", settings::facial_recognition_enabled(config)},
          {"duplicateDetection", settings::duplicate_detection_enabled(config)},
          {"ocr", settings::ocr_enabled(config)},
          {"search", true},
          {"importFaces", false},
          {"oauth", false},
          {"passwordLogin", true},
          {"configFile", false},
          {"trash", true},
          {"sidecar", false},
          {"map", false},
          {"reverseGeocoding", false},
          {"email", false}};
}

}  // namespace

void register_server_routes(Api& api, settings::SettingsStore& settings, const ServerInfo& info) {
  api.get("/api/server/ping", health_route(), [](const ApiRequest&) -> Expected<ApiResponse> {
    return ApiResponse::json({{"res", "pong"}});
  });

  api.get("/api/server/version", public_route(),
          [version = info.version](const ApiRequest&) -> Expected<ApiResponse> {
            return ApiResponse::json(version_json(version));
          });

  api.get("/api/server/features", public_route(), [&settings](const ApiRequest&) -> Expected<ApiResponse> {
    return ApiResponse::json(features_json(settings.get()));
  });

  api.get("/api/server/config", public_route(),
          [initialized = info.is_initialized](const ApiRequest&) -> Expected<ApiResponse> {
            return ApiResponse::json({{"isInitialized", initialized ? initialized() : true},
                                      {"isOnboarded", true},
                                      {"loginPageMessage", ""},
                                      {"externalDomain", ""}});
          });

  api.get("/api/server/about", user_route(Permission::kServerAbout),
          [version = info.version](const ApiRequest&) -> Expected<ApiResponse> {
            return ApiResponse::json({{"version", "v" + version}, {"licensed", false}, {"build", "focal"}});
          });

  api.get("/api/system-config", admin_route(Permission::kSystemConfigRead),
          [&settings](const ApiRequest&) -> Expected<ApiResponse> {
            auto fresh = settings.reload();
            if (!fresh) return fresh.error();
            return ApiResponse::json(settings::to_json(*fresh));
          });

  api.get("/api/system-config/defaults", admin_route(Permission::kSystemConfigRead),
          [&settings](const ApiRequest&) -> Expected<ApiResponse> {
            return ApiResponse::json(settings::to_json(settings.defaults()));
          });

  // Immich's client sends the whole config; a partial body is merged over the defaults the same way. Unknown
  // keys are refused (a typo must not be silently ignored), naming the key.
  api.put("/api/system-config", admin_route(Permission::kSystemConfigUpdate),
          [&settings](const ApiRequest& req) -> Expected<ApiResponse> {
            auto body = req.json_body();
            if (!body) return body.error();
            std::vector<std::string> unknown;
            auto config = settings::from_json(*body, settings.defaults(), &unknown);
            if (!config) return config.error();
            if (!unknown.empty()) {
              std::string keys;
              for (const auto& key : unknown) keys += (keys.empty() ? "" : ", ") + key;
              return bad_request("Unknown configuration key(s): " + keys);
            }
            if (auto st = settings.update(*config); !st) return st.error();
            return ApiResponse::json(settings::to_json(settings.get()));
          });
}

// The settings page shows which machineLearning.urls answer; the same permission as reading the config
// (where the URLs come from).
void register_ml_health_route(Api& api, MlHealthProbe probe) {
  api.get("/api/server/ml-health", admin_route(Permission::kSystemConfigRead),
          [probe = std::move(probe)](const ApiRequest& req) -> Expected<ApiResponse> {
            auto refresh = req.query_bool("refresh");
            if (!refresh) return refresh.error();
            const MlHealth health = probe(refresh->value_or(false));
            json urls = json::array();
            for (const auto& entry : health.urls) {
              urls.push_back({{"url", entry.url},
                              {"healthy", entry.healthy},
                              {"outstanding", entry.outstanding},
                              {"requests", entry.requests},
                              {"failures", entry.failures},
                              {"latencyMs", entry.latency_ms}});
            }
            return ApiResponse::json({{"balance", health.balance}, {"urls", std::move(urls)}});
          });
}

void register_metrics_route(Api& api, std::function<std::string()> render) {
  api.get("/metrics", admin_route(Permission::kSystemConfigRead),
          [render = std::move(render)](const ApiRequest&) -> Expected<ApiResponse> {
            return ApiResponse::bytes(render(), "text/plain; version=0.0.4; charset=utf-8");
          });
}

}  // namespace focal::server
