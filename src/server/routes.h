// SPDX-License-Identifier: AGPL-3.0-or-later
// Registration functions of the route files (each file serves one area of the REST API).
#pragma once

#include <functional>
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

// One configured ML URL and whether its last health check answered.
struct MlUrlHealth {
  std::string url;
  bool healthy = false;
};
// The ML client's health by URL in the configured order; `refresh` pings every URL first (blocking up to
// the ping timeout per URL).
using MlHealthProbe = std::function<std::vector<MlUrlHealth>(bool refresh)>;
// GET /api/server/ml-health (admin).
void register_ml_health_route(Api& api, MlHealthProbe probe);

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
