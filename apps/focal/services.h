// SPDX-License-Identifier: AGPL-3.0-or-later
// The composition root of `focal`: opens the data directory's database, runs every component's migrations in
// the SERVER.md order, and builds the services (and their job handlers) that `serve` and the CLI share.
#pragma once

#include <memory>

#include "auth/auth.h"
#include "config/env.h"
#include "config/focal_config.h"
#include "core/error.h"
#include "duplicates/duplicates.h"
#include "jobs/daily.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "people/people.h"
#include "search/search.h"
#include "server/api.h"
#include "settings/settings.h"
#include "store/database.h"
#include "text_search/text_search.h"

namespace focal::app {

class Services {
 public:
  // Creates the data directory if needed, opens <data_dir>/focal.db and migrates it, then builds every
  // service. The ML client's health checks start only in start_background() (serve) or on first use (CLI).
  static Expected<std::unique_ptr<Services>> open(const FocalConfig& config, const EnvMap& env);
  ~Services();  // stops workers, watcher and health checks before anything is destroyed
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  // `focal serve`: job workers (unless FOCAL_WORKERS=false), folder watcher, ML health checks, nightly tasks.
  Status start_background();
  void stop_background();

  const FocalConfig& config() const { return config_; }
  const EnvMap& env() const { return env_; }
  store::Database& db() { return *db_; }
  jobs::JobQueue& queue() { return *queue_; }
  settings::SettingsStore& settings() { return *settings_; }
  ml::HttpMlClient& ml() { return *ml_; }
  library::LibraryService& library() { return *library_; }
  search::SmartSearchService& smart_search() { return *smart_; }
  search::KeywordSearch& keyword_search() { return *keyword_; }
  people::PeopleService& people() { return *people_; }
  duplicates::DuplicateService& duplicates() { return *duplicates_; }
  text_search::TextSearchService& text_search() { return *text_; }
  auth::AuthService& auth() { return *auth_; }

 private:
  Services(FocalConfig config, EnvMap env) : config_(std::move(config)), env_(std::move(env)) {}
  void apply_settings(const settings::SystemConfig& config);
  Status adopt_unowned();

  FocalConfig config_;
  EnvMap env_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<jobs::JobQueue> queue_;
  std::unique_ptr<settings::SettingsStore> settings_;
  std::unique_ptr<ml::HttpMlClient> ml_;
  std::unique_ptr<library::LibraryService> library_;
  std::unique_ptr<search::SmartSearchService> smart_;
  std::unique_ptr<search::KeywordSearch> keyword_;
  std::unique_ptr<people::PeopleService> people_;
  std::unique_ptr<duplicates::DuplicateService> duplicates_;
  std::unique_ptr<text_search::TextSearchService> text_;
  std::unique_ptr<auth::AuthService> auth_;
  std::unique_ptr<jobs::DailySchedule> nightly_;
  int settings_listener_ = -1;
  bool background_ = false;
};

// How `config` opens the library's database (FOCAL_DATABASE_URL, or <data_dir>/focal.db).
store::DatabaseOptions database_options(const FocalConfig& config);
// Runs every component's migrations, in the order their tables reference each other.
Status migrate_all(store::Database& db);

// The REST API's route table over the services (`focal serve`, `focal routes`, the API fuzzer).
server::Api build_api(Services& services, const std::string& version);

}  // namespace focal::app
