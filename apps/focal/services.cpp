// SPDX-License-Identifier: AGPL-3.0-or-later
#include "services.h"

#include <spdlog/spdlog.h>

#include "metrics/metrics.h"
#include "server/routes.h"

namespace focal::app {
namespace {

Error with_context(const Error& error, const std::string& what) {
  return {error.kind, what + ": " + error.message};
}

// How often `focal serve` checks whether the nightly tasks are due (they run once, within an hour of the
// start time; the first check is at start-up).
constexpr std::chrono::seconds kNightlyPoll{30};

// Immich's nightly tasks (nightlyTasks.*) that concern focal's data, as jobs.
std::vector<jobs::JobRequest> nightly_jobs(const settings::NightlyTasks& tasks) {
  std::vector<jobs::JobRequest> out;
  const auto once = [&out](std::string_view name, nlohmann::json data) {
    jobs::JobRequest request{std::string(name), std::move(data)};
    request.dedupe_key = std::string(name);  // never twice in the queue
    out.push_back(std::move(request));
  };
  if (tasks.database_cleanup) once(jobs::job::kPersonCleanup, nlohmann::json::object());
  if (tasks.missing_thumbnails) once(jobs::job::kAssetGenerateThumbnailsQueueAll, {{"force", false}});
  if (tasks.cluster_new_faces)
    once(jobs::job::kFacialRecognitionQueueAll, {{"force", false}, {"nightly", true}});
  return out;
}

}  // namespace

store::DatabaseOptions database_options(const FocalConfig& config) {
  store::DatabaseOptions options;
  options.path = config.database_path();
  options.reader_connections = config.db_readers;
  options.postgres_url = config.database_url;
  return options;
}

Status migrate_all(store::Database& db) {
  // SERVER.md order: library, jobs, settings, search, people, duplicates, ocr, auth (later components
  // reference earlier ones' tables).
  const std::pair<const char*, std::function<Status()>> migrations[] = {
      {"library", [&] { return library::migrate(db); }},
      {"jobs", [&] { return jobs::migrate(db); }},
      {"settings", [&] { return settings::migrate(db); }},
      {"search", [&] { return search::migrate(db); }},
      {"people", [&] { return people::migrate(db); }},
      {"duplicates", [&] { return duplicates::migrate(db); }},
      {"ocr", [&] { return text_search::migrate(db); }},
      {"auth", [&] { return db.migrate(auth::kComponent, auth::migrations()); }},
  };
  for (const auto& [name, run] : migrations) {
    if (auto st = run(); !st) return with_context(st.error(), std::string("Migrating ") + name);
  }
  return {};
}

Expected<std::unique_ptr<Services>> Services::open(const FocalConfig& config, const EnvMap& env) {
  std::unique_ptr<Services> s(new Services(config, env));
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec)
    return internal_error("Cannot create data directory " + config.data_dir.string() + ": " + ec.message());
  if (auto st = auth::init_crypto(); !st) return st.error();

  auto db = store::Database::open(database_options(config));
  if (!db) return with_context(db.error(), "Opening " + config.database_location());
  s->db_ = std::move(*db);
  if (auto migrated = migrate_all(*s->db_); !migrated) return migrated.error();

  jobs::JobQueueOptions queue_options;
  queue_options.lease = std::chrono::milliseconds(config.job_lease_ms);
  queue_options.heartbeat = std::chrono::milliseconds(config.job_lease_ms / 4);
  queue_options.recovery_interval = std::chrono::milliseconds(config.job_lease_ms / 2);
  queue_options.backoff_initial = std::chrono::milliseconds(config.job_retry_initial_ms);
  queue_options.backoff_max = std::chrono::milliseconds(config.job_retry_max_ms);
  auto queue = jobs::JobQueue::open(*s->db_, queue_options);
  if (!queue) return with_context(queue.error(), "Opening the job queue");
  s->queue_ = std::move(*queue);
  auto settings_store = settings::SettingsStore::open(*s->db_, env);
  if (!settings_store) return with_context(settings_store.error(), "Loading the system config");
  s->settings_ = std::move(*settings_store);
  const auto system_config = s->settings_->get();
  s->ml_ = std::make_unique<ml::HttpMlClient>(ml::client_options(system_config, env));

  library::LibraryOptions library_options;
  library_options.data_dir = config.data_dir;
  auto library_service = library::LibraryService::create(*s->db_, *s->queue_, library_options);
  if (!library_service) return with_context(library_service.error(), "Starting the library");
  s->library_ = std::move(*library_service);

  search::SmartSearchOptions smart_options;
  smart_options.index_dir = config.database_path().parent_path();  // HNSW indexes live beside the database
  // Other focal processes share a PostgreSQL library: take in their embeddings now and then.
  if (!config.database_url.empty())
    smart_options.sync_interval = std::chrono::milliseconds(config.index_sync_ms);
  smart_options.pgvector = config.vector_index == "pgvector";
  auto smart =
      search::SmartSearchService::open(*s->db_, *s->settings_, *s->ml_, s->library_->assets(), smart_options);
  if (!smart) return with_context(smart.error(), "Loading smart search");
  s->smart_ = std::move(*smart);
  s->smart_->register_jobs(*s->queue_);
  s->keyword_ = std::make_unique<search::KeywordSearch>(*s->db_);
  s->keyword_->register_jobs(*s->queue_);

  people::PeopleOptions people_options;
  people_options.data_dir = config.data_dir;
  people_options.pgvector = smart_options.pgvector;
  auto people_service = people::PeopleService::create(*s->db_, *s->queue_, *s->settings_, *s->ml_,
                                                      s->library_->assets(), people_options);
  if (!people_service) return with_context(people_service.error(), "Starting people");
  s->people_ = std::move(*people_service);
  auto* people_ptr = s->people_.get();
  s->text_ = std::make_unique<text_search::TextSearchService>(*s->db_, *s->settings_, *s->ml_,
                                                              s->library_->assets());
  s->text_->register_jobs(*s->queue_);
  auto* text_ptr = s->text_.get();
  search::FilterResolvers resolvers;
  resolvers.people = [people_ptr](std::optional<std::int64_t> owner, std::span<const std::int64_t> ids) {
    return people_ptr->assets_with_people(owner, ids);
  };
  resolvers.text = [text_ptr](std::optional<std::int64_t> owner, std::string_view text) {
    return text_ptr->matching_assets(owner, text);
  };
  s->smart_->set_resolvers(resolvers);
  s->keyword_->set_resolvers(resolvers);

  auto duplicate_service =
      duplicates::DuplicateService::create(*s->db_, *s->queue_, *s->settings_, *s->smart_, *s->library_);
  if (!duplicate_service) return with_context(duplicate_service.error(), "Starting duplicate detection");
  s->duplicates_ = std::move(*duplicate_service);

  s->auth_ = std::make_unique<auth::AuthService>(*s->db_);
  if (auto adopted = s->adopt_unowned(); !adopted) return with_context(adopted.error(), "Assigning owners");

  s->apply_settings(system_config);
  auto* raw = s.get();
  s->settings_listener_ =
      s->settings_->subscribe([raw](const settings::SystemConfig&, const settings::SystemConfig& updated) {
        raw->apply_settings(updated);
      });
  return s;
}

// Libraries, assets and people from before ownership belong to the instance owner.
Status Services::adopt_unowned() {
  auto unowned = library_->has_unowned();
  if (!unowned) return unowned.error();
  if (!*unowned) return {};
  auto owner = auth_->instance_owner();
  if (!owner) return owner.error();
  auto adopted = library_->adopt_unowned(*owner);
  if (!adopted) return adopted.error();
  if (auto st = people_->adopt_unowned(*owner); !st) return st;
  spdlog::info("Gave {} assets without an owner to user {}", *adopted, *owner);
  return {};
}

void Services::apply_settings(const settings::SystemConfig& config) {
  for (const auto& queue : jobs::known_queues()) {
    queue_->set_concurrency(queue.name, settings::queue_concurrency(config, queue.name));
  }
  ml_->configure(ml::client_options(config, env_));
}

Status Services::start_background() {
  if (background_) return {};
  background_ = true;
  ml_->start();
  if (config_.workers) queue_->start_workers();
  nightly_ = std::make_unique<jobs::DailySchedule>(*queue_, *db_, "nightlyTasks");
  nightly_->start(
      kNightlyPoll, [this] { return settings_->get().nightly_tasks.start_time; },
      [this] { return nightly_jobs(settings_->get().nightly_tasks); });
  if (auto st = library_->start_watching(); !st) {
    spdlog::warn("Folder watcher not started: {}", st.error().message);
  }
  return {};
}

void Services::stop_background() {
  if (!background_) return;
  background_ = false;
  library_->stop_watching();
  if (nightly_) nightly_->stop();
  queue_->stop_workers();
  ml_->stop();
}

Services::~Services() {
  stop_background();
  if (queue_) queue_->stop_workers();
  if (settings_ && settings_listener_ >= 0) settings_->unsubscribe(settings_listener_);
}

namespace {

// focal serve's /metrics: the ML nodes (how requests are spread) and the job queues (what is left to do).
std::string render_metrics(Services& services) {
  std::string out;
  ml::render_node_metrics(services.ml(), out);
  auto queues = services.queue().status_all();
  if (!queues) return out;
  out += "# HELP focal_jobs Jobs by queue and state (completed: since the queue's counter was created)\n";
  out += "# TYPE focal_jobs gauge\n";
  const std::vector<std::string> names{"queue", "state"};
  for (const auto& queue : *queues) {
    const auto& c = queue.counts;
    const std::pair<const char*, std::int64_t> states[] = {
        {"active", c.active}, {"waiting", c.waiting}, {"delayed", c.delayed},
        {"failed", c.failed}, {"paused", c.paused},   {"completed", c.completed}};
    for (const auto& [state, count] : states)
      out += "focal_jobs" + format_labels(names, {queue.name, state}) + " " + std::to_string(count) + "\n";
  }
  return out;
}

}  // namespace

server::Api build_api(Services& services, const std::string& version) {
  server::Api api;
  auto* auth = &services.auth();
  server::register_auth_routes(api, *auth);
  server::register_server_routes(api, services.settings(), server::ServerInfo{version, [auth] {
                                                                                auto has = auth->has_admin();
                                                                                return has.ok() && *has;
                                                                              }});
  server::register_job_routes(api, services.queue());
  server::register_asset_routes(api, services.library(), services.keyword_search(),
                                [auth](std::int64_t id) { return auth->user_by_id(id).ok(); });
  server::register_timeline_routes(api, services.library());
  server::register_search_routes(api, services.smart_search(), services.keyword_search(), services.library());
  server::register_ml_health_route(api, [ml = &services.ml()](bool refresh) {
    if (refresh) ml->check_health_now();
    server::MlHealth out{std::string(ml::to_string(ml->balance())), {}};
    for (auto& node : ml->nodes())
      out.urls.push_back({std::move(node.url), node.healthy, node.outstanding, node.requests, node.failures,
                          std::move(node.latency_ms)});
    return out;
  });
  server::register_metrics_route(api, [&services] { return render_metrics(services); });
  server::register_people_routes(api, services.people());
  server::register_duplicate_routes(api, services.duplicates());
  return api;
}

}  // namespace focal::app
