// SPDX-License-Identifier: AGPL-3.0-or-later
// Queues and jobs (start, pause, resume, empty, counters): Immich's /queues API and legacy /jobs commands.
#include "jobs/jobs.h"
#include "server/routes.h"

namespace focal::server {
namespace {

using nlohmann::json;

json statistics_json(const jobs::QueueCounts& c) {
  return {{"active", c.active},   {"completed", c.completed}, {"failed", c.failed},
          {"delayed", c.delayed}, {"waiting", c.waiting},     {"paused", c.paused}};
}

json queue_json(const jobs::QueueStatus& status) {
  return {{"name", status.name},
          {"isPaused", status.is_paused},
          {"concurrency", status.concurrency},
          {"statistics", statistics_json(status.counts)}};
}

// Immich's legacy QueueResponseDto.
json legacy_json(const jobs::QueueStatus& status) {
  return {{"queueStatus", {{"isActive", status.counts.active > 0}, {"isPaused", status.is_paused}}},
          {"jobCounts", statistics_json(status.counts)}};
}

Expected<std::string> queue_name(const ApiRequest& req) {
  const auto& name = req.path_params.at("name");
  if (jobs::find_queue(name) == nullptr) {
    std::string known;
    for (const auto& q : jobs::known_queues()) known += (known.empty() ? "" : ", ") + std::string(q.name);
    return bad_request("Unknown queue '" + name.substr(0, 64) + "'; known queues: " + known);
  }
  return name;
}

json job_info_json(const jobs::JobInfo& job) {
  json out = {{"id", job.id},
              {"name", job.name},
              {"queue", job.queue},
              {"status", std::string(jobs::to_string(job.state))},
              {"timestamp", job.created_at_ms},
              {"data", job.data},
              {"attempts", job.attempts}};
  if (job.state == jobs::JobState::kDelayed) out["runAt"] = job.run_at_ms;
  if (!job.error.empty()) out["error"] = job.error;
  return out;
}

}  // namespace

void register_job_routes(Api& api, jobs::JobQueue& queue) {
  api.get("/api/queues", admin_route(Permission::kJobRead),
          [&queue](const ApiRequest&) -> Expected<ApiResponse> {
            auto all = queue.status_all();
            if (!all) return all.error();
            json out = json::array();
            for (const auto& status : *all) out.push_back(queue_json(status));
            return ApiResponse::json(out);
          });

  api.get("/api/queues/:name", admin_route(Permission::kJobRead),
          [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = queue_name(req);
            if (!name) return name.error();
            auto status = queue.status(*name);
            if (!status) return status.error();
            return ApiResponse::json(queue_json(*status));
          });

  api.put("/api/queues/:name", admin_route(Permission::kJobCreate),
          [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = queue_name(req);
            if (!name) return name.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto paused = optional_bool(*body, "isPaused");
            if (!paused) return paused.error();
            if (*paused) {
              if (**paused && *name == jobs::queue::kBackgroundTask) {
                return bad_request("The BackgroundTask queue cannot be paused");
              }
              auto st = **paused ? queue.pause(*name) : queue.resume(*name);
              if (!st) return st.error();
            }
            auto status = queue.status(*name);
            if (!status) return status.error();
            return ApiResponse::json(queue_json(*status));
          });

  api.del("/api/queues/:name/jobs", admin_route(Permission::kJobCreate),
          [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = queue_name(req);
            if (!name) return name.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto failed = optional_bool(*body, "failed");
            if (!failed) return failed.error();
            if (auto st = queue.empty(*name); !st) return st.error();
            if (failed->value_or(false)) {
              if (auto st = queue.clear_failed(*name); !st) return st.error();
            }
            return ApiResponse::no_content();
          });

  api.get("/api/queues/:name/jobs", admin_route(Permission::kJobRead),
          [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = queue_name(req);
            if (!name) return name.error();
            std::vector<jobs::JobState> states = {jobs::JobState::kActive, jobs::JobState::kWaiting,
                                                  jobs::JobState::kDelayed, jobs::JobState::kFailed};
            if (auto text = req.query_value("status")) {
              auto state = jobs::parse_job_state(*text);
              if (!state) return bad_request("status must be one of active, waiting, delayed, failed");
              states = {*state};
            }
            json out = json::array();
            for (const auto state : states) {
              auto list = queue.list(*name, state, 1000);
              if (!list) return list.error();
              for (const auto& job : *list) {
                if (out.size() < 1000) out.push_back(job_info_json(job));
              }
            }
            return ApiResponse::json(out);
          });

  // Legacy API: GET /jobs (every queue) and PUT /jobs/:name {command, force}.
  api.get("/api/jobs", admin_route(Permission::kJobRead),
          [&queue](const ApiRequest&) -> Expected<ApiResponse> {
            auto all = queue.status_all();
            if (!all) return all.error();
            json out = json::object();
            for (const auto& status : *all) out[status.name] = legacy_json(status);
            return ApiResponse::json(out);
          });

  api.put("/api/jobs/:name", admin_route(Permission::kJobCreate),
          [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
            auto name = queue_name(req);
            if (!name) return name.error();
            auto body = req.json_body();
            if (!body) return body.error();
            auto command = optional_string(*body, "command");
            if (!command) return command.error();
            auto force = optional_bool(*body, "force");
            if (!force) return force.error();
            if (!*command)
              return bad_request("command must be one of start, pause, resume, empty, clear-failed");
            const auto& cmd = **command;
            Status st;
            if (cmd == "start") {
              st = queue.start(*name, *force);
            } else if (cmd == "pause") {
              st = queue.pause(*name);
            } else if (cmd == "resume") {
              st = queue.resume(*name);
            } else if (cmd == "empty") {
              st = queue.empty(*name);
            } else if (cmd == "clear-failed") {
              st = queue.clear_failed(*name);
            } else {
              return bad_request("command must be one of start, pause, resume, empty, clear-failed");
            }
            if (!st) return st.error();
            auto status = queue.status(*name);
            if (!status) return status.error();
            return ApiResponse::json(legacy_json(*status));
          });

  // Manual jobs (Immich's "Create job" dialog).
  api.post("/api/jobs", admin_route(Permission::kJobCreate),
           [&queue](const ApiRequest& req) -> Expected<ApiResponse> {
             auto body = req.json_body();
             if (!body) return body.error();
             auto name = optional_string(*body, "name");
             if (!name) return name.error();
             if (!*name || **name != "person-cleanup")
               return bad_request("name must be one of person-cleanup");
             jobs::JobRequest request;
             request.name = std::string(jobs::job::kPersonCleanup);
             auto id = queue.enqueue(request);
             if (!id) return id.error();
             return ApiResponse::no_content();
           });
}

}  // namespace focal::server
