// SPDX-License-Identifier: AGPL-3.0-or-later
// Registration functions of the route files (each file serves one area of the REST API).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/api.h"
#include "server/http_server.h"

namespace focal::auth {
class AuthService;
}
namespace focal::jobs {
class JobQueue;
}
namespace focal::settings {
class SettingsStore;
}
namespace focal::library {
class LibraryService;
}
namespace focal::search {
class SmartSearchService;
class KeywordSearch;
}  // namespace focal::search
namespace focal::people {
class PeopleService;
}
namespace focal::duplicates {
class DuplicateService;
}

namespace focal::server {

// /api/auth/*, /api/users/me, /api/api-keys*, /api/admin/users*.
void register_auth_routes(Api& api, auth::AuthService& auth);
// Resolves x-api-key, Authorization: Bearer and the immich_access_token cookie (in that order).
Authenticator make_authenticator(auth::AuthService& auth);

// /api/queues*, /api/jobs*.
void register_job_routes(Api& api, jobs::JobQueue& queue);

struct ServerInfo {
  std::string version;                   // "0.1.0"
  std::function<bool()> is_initialized;  // an admin exists (GET /api/server/config)
};
// /api/server/{ping,version,about,features,config} (public) and /api/system-config (admin).
void register_server_routes(Api& api, settings::SettingsStore& settings, const ServerInfo& info);

// One configured ML URL: whether it takes requests, and its request counters since start.
struct MlUrlHealth {
  std::string url;
  bool healthy = false;
  int outstanding = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
  std::map<std::string, double, std::less<>> latency_ms;  // moving average by task
};
struct MlHealth {
  std::string balance;            // machineLearning.balance in use
  std::vector<MlUrlHealth> urls;  // configured order
};
// The ML client's state; `refresh` pings every URL first (blocking up to the ping timeout per URL).
using MlHealthProbe = std::function<MlHealth(bool refresh)>;
// GET /api/server/ml-health (admin).
void register_ml_health_route(Api& api, MlHealthProbe probe);

// GET /metrics (Prometheus text format), with the system-config read permission: an admin session or an API
// key with systemConfig.read (Prometheus sends it with `http_headers: {x-api-key: ...}`).
void register_metrics_route(Api& api, std::function<std::string()> render);

// True when a user with this id exists (library owners).
using UserExists = std::function<bool(std::int64_t user_id)>;

// /api/libraries*, /api/assets*. Assets are the caller's own; libraries are administrative.
void register_asset_routes(Api& api, library::LibraryService& library, search::KeywordSearch& keyword,
                           UserExists users);

// /api/timeline/{buckets,bucket}: the caller's assets by UTC month of the date taken.
void register_timeline_routes(Api& api, library::LibraryService& library);

// /api/search/{smart,metadata,suggestions}.
void register_search_routes(Api& api, search::SmartSearchService& smart, search::KeywordSearch& keyword,
                            library::LibraryService& library);

// Implemented by the people helper's route files (src/server/people_routes.cpp, duplicate_routes.cpp):
// /api/people*, /api/faces*, /api/search/person, /api/duplicates*.
void register_people_routes(Api& api, people::PeopleService& people);
void register_duplicate_routes(Api& api, duplicates::DuplicateService& duplicates);

}  // namespace focal::server
