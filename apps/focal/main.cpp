// SPDX-License-Identifier: AGPL-3.0-or-later
// focal: the library server and its command line. `focal serve` runs the REST API, the job workers, the
// folder watcher and the ML health checks; every other command works directly on the data directory
// (FOCAL_DATA_DIR), so importing, running jobs and searching need no running server (SQLite WAL lets both
// share the database).
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.h"
#include "cli_common.h"
#include "config/focal_config.h"
#include "core/logging.h"
#include "progress.h"
#include "server/http_server.h"
#include "server/routes.h"
#include "server/web_app.h"
#include "services.h"

namespace focal::app {
namespace {

using nlohmann::json;

// SIGINT/SIGTERM are taken by one thread with sigwait (every other thread has them blocked). The first signal
// sets `interrupted` and runs the stop callback; a second one exits at once (jobs are leased, so nothing is
// lost: an interrupted job returns to its queue when its lease expires).
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGUSR2);  // internal: wakes the thread at exit
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] {
      while (true) {
        int sig = 0;
        sigwait(&signals_, &sig);
        if (sig == SIGUSR2) return;
        if (interrupted_.exchange(true)) {
          std::fputs("\nfocal: interrupted twice, exiting now\n", stderr);
          std::_Exit(130);
        }
        std::function<void()> stop;
        {
          std::lock_guard lock(mutex_);
          stop = on_stop_;
        }
        if (stop) stop();
      }
    });
  }
  ~SignalWatcher() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  const std::atomic<bool>& interrupted() const { return interrupted_; }
  void on_stop(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    on_stop_ = std::move(fn);
  }

 private:
  sigset_t signals_{};
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;
  std::function<void()> on_stop_;
  std::thread thread_;
};

bool stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

// Queues whose jobs call an ML service: with none reachable they could only wait to retry.
constexpr std::array kMlQueues = {jobs::queue::kSmartSearch, jobs::queue::kFaceDetection, jobs::queue::kOcr};

bool is_ml_queue(std::string_view name) {
  return std::find(kMlQueues.begin(), kMlQueues.end(), name) != kMlQueues.end();
}

// The ML URLs none of which answers a health check, or nothing when ML is off, its checks are off, or one
// URL answers (then the jobs run and report their own errors).
std::vector<std::string> unreachable_ml_urls(Services& services) {
  const settings::SystemConfig config = services.settings().get();
  const auto& ml = config.machine_learning;
  const bool needs_ml = settings::smart_search_enabled(config) ||
                        settings::facial_recognition_enabled(config) || settings::ocr_enabled(config);
  if (!needs_ml || !ml.availability_checks.enabled) return {};
  services.ml().check_health_now();
  auto urls = services.ml().urls();
  for (const auto& url : urls) {
    if (services.ml().is_healthy(url)) return {};
  }
  return urls;
}

// Foreground drain with one progress bar per queue on a TTY and plain lines otherwise. With no ML service
// reachable, the ML queues are left queued and the command says so at once instead of retrying for minutes.
int drain_queues(Services& services, const jobs::DrainOptions& base, const std::atomic<bool>& interrupted) {
  jobs::DrainOptions options = base;
  const std::vector<std::string> unreachable = unreachable_ml_urls(services);
  if (!unreachable.empty()) {
    std::vector<std::string> selected = options.queues;
    if (selected.empty()) {
      for (const auto& queue : jobs::known_queues()) selected.emplace_back(queue.name);
    }
    std::erase_if(selected, [](const std::string& name) { return is_ml_queue(name); });
    options.queues = std::move(selected);
  }
  // Only ML queues were asked for and none can run (an empty list would mean every queue).
  const bool nothing_to_run = !unreachable.empty() && options.queues.empty();
  auto before = services.queue().status_all();
  if (!before) return fail(before.error());
  const QueueBaseline baseline = baseline_of(*before);
  ProgressDisplay display(stderr, stderr_is_tty());
  options.on_progress = [&](const jobs::DrainProgress& progress) {
    auto rows = queue_progress(progress.queues, baseline);
    if (!options.queues.empty()) {  // only the queues that run
      std::erase_if(rows, [&](const QueueProgress& row) {
        return std::find(options.queues.begin(), options.queues.end(), row.name) == options.queues.end();
      });
    }
    display.update(rows);
  };
  options.should_stop = [&interrupted] { return interrupted.load(); };
  auto report = nothing_to_run ? Expected<jobs::DrainReport>(jobs::DrainReport{})
                               : services.queue().run_until_idle(options);
  if (!report) return fail(report.error());
  std::printf("Processed %lld jobs (%lld failed, %lld waiting to retry)%s\n",
              static_cast<long long>(report->processed), static_cast<long long>(report->failed),
              static_cast<long long>(report->delayed), interrupted.load() ? "; interrupted" : "");
  if (interrupted.load()) return 130;
  if (!unreachable.empty()) {
    auto after = services.queue().status_all();
    if (!after) return fail(after.error());
    std::string left;
    for (const auto& q : *after) {
      const auto pending = q.counts.waiting + q.counts.paused + q.counts.delayed + q.counts.active;
      if (!is_ml_queue(q.name) || pending == 0) continue;
      left += (left.empty() ? "" : ", ") + q.name + " " + std::to_string(pending);
    }
    std::string urls;
    for (const auto& url : unreachable) urls += (urls.empty() ? "" : ", ") + url;
    std::fprintf(stderr,
                 "focal: no machine-learning service answers (tried %s).\n"
                 "  Left queued: %s.\n"
                 "  Start focal-ml on this machine, or point focal at a running one:\n"
                 "    focal config set machineLearning.urls http://HOST:3003\n"
                 "  then run `focal jobs run`. Without machine learning:\n"
                 "    focal config set machineLearning.enabled false\n",
                 urls.c_str(), left.empty() ? "nothing" : left.c_str());
    return kExitFailure;
  }
  if (report->delayed > 0) {
    std::printf(
        "Jobs waiting to retry usually mean the ML service is unreachable; they run again with `focal "
        "jobs run --wait-delayed` or `focal serve`.\n");
  }
  return report->failed > 0 ? kExitFailure : kExitOk;
}

void print_queues(const std::vector<jobs::QueueStatus>& queues) {
  std::printf("%-22s %-7s %7s %8s %8s %7s %10s %5s\n", "QUEUE", "STATE", "ACTIVE", "WAITING", "DELAYED",
              "FAILED", "COMPLETED", "CONC");
  for (const auto& q : queues) {
    std::printf("%-22s %-7s %7lld %8lld %8lld %7lld %10lld %5d\n", q.name.c_str(),
                q.is_paused ? "paused" : "ready", static_cast<long long>(q.counts.active),
                static_cast<long long>(q.counts.waiting + q.counts.paused),
                static_cast<long long>(q.counts.delayed), static_cast<long long>(q.counts.failed),
                static_cast<long long>(q.counts.completed), q.concurrency);
  }
}

json queue_status_json(const jobs::QueueStatus& q) {
  return {{"name", q.name},
          {"isPaused", q.is_paused},
          {"concurrency", q.concurrency},
          {"statistics",
           {{"active", q.counts.active},
            {"completed", q.counts.completed},
            {"failed", q.counts.failed},
            {"delayed", q.counts.delayed},
            {"waiting", q.counts.waiting},
            {"paused", q.counts.paused}}}};
}

// ---------------------------------------------------------------------------------------------------------
// serve

int serve(Services& services, SignalWatcher& signals, const FocalConfig& cfg) {
  const server::Api api = build_api(services, build::kVersion);
  server::HttpServerConfig http_cfg;
  http_cfg.host = cfg.host;
  http_cfg.port = cfg.port;
  http_cfg.http_threads = cfg.http_threads;
  http_cfg.max_upload_bytes = cfg.max_upload_bytes;
  http_cfg.max_json_bytes = cfg.max_json_bytes;
  http_cfg.limits = http::limits_from(cfg.http, std::chrono::seconds(cfg.keepalive_timeout_s));
  http_cfg.tls = http::tls_from(cfg.http);
  http_cfg.access_log = cfg.http.access_log;
  http_cfg.trust_proxy = cfg.trust_proxy;
  http_cfg.web_root = cfg.web_dir;
  server::HttpServer http(http_cfg, api, server::make_authenticator(services.auth()));
  auto port = http.front().bind();
  if (!port) return fail(port.error());

  if (auto st = services.start_background(); !st) return fail(st.error());
  signals.on_stop([&http] {
    spdlog::info("Stopping: finishing in-flight requests and jobs");
    http.front().stop();
  });
  if (signals.interrupted()) http.front().stop();

  auto has_admin = services.auth().has_admin();
  if (has_admin.ok() && !*has_admin) {
    spdlog::info("No admin yet: create one with `focal user create --admin` or POST /api/auth/admin-sign-up");
  }
  if (server::WebApp(cfg.web_dir).installed()) {
    spdlog::info("Web UI from {}", cfg.web_dir.string());
  } else {
    spdlog::info("No web UI at {} (no index.html): set FOCAL_WEB_DIR or build web/ (npm ci && npm run build)",
                 cfg.web_dir.string());
  }
  spdlog::info("focal {} listening on http://{}:{} (data {}, workers {})", build::kVersion, cfg.host, *port,
               cfg.data_dir.string(), cfg.workers ? "on" : "off");
  // Machine-readable line for scripts and tests that start focal on port 0.
  std::printf("Listening on %s:%d\n", cfg.host.c_str(), *port);
  std::fflush(stdout);
  http.front().serve();
  signals.on_stop(nullptr);  // `http` goes away with this frame
  services.stop_background();
  spdlog::info("Stopped");
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------
// search

enum class SearchMode { kSmart, kKeyword, kOcr };

int run_search(Services& services, std::int64_t owner, const std::string& text, int limit, bool as_json,
               SearchMode search_mode) {
  std::vector<search::SearchHit> hits;
  std::string mode = "smart";
  bool keyword_only = search_mode != SearchMode::kSmart;
  if (!keyword_only) {
    search::SmartSearchRequest request;
    request.query = text;
    request.size = limit;
    request.filter.owner_id = owner;
    auto page = services.smart_search().search(request);
    if (page) {
      hits = std::move(page->items);
    } else {
      const auto& error = page.error();
      const bool ml_off =
          error.kind == ErrorKind::kUnavailable || error.message.find("not enabled") != std::string::npos;
      if (!ml_off) return fail(error);
      std::fprintf(stderr, "focal: smart search unavailable (%s); falling back to keyword search\n",
                   error.message.c_str());
      keyword_only = true;
    }
  }
  if (keyword_only) {
    search::KeywordSearchRequest request;
    request.size = limit;
    request.filter.owner_id = owner;
    if (search_mode == SearchMode::kOcr) {  // the words read in photos; newest first
      mode = "ocr";
      request.filter.ocr_text = text;
    } else {
      mode = "keyword";
      request.query = text;
    }
    auto page = services.keyword_search().search(request);
    if (!page) return fail(page.error());
    hits = std::move(page->items);
  }
  json results = json::array();
  for (const auto& hit : hits) {
    auto asset = services.library().assets().get(hit.asset_id);
    if (!asset) return fail(asset.error());
    if (!*asset) continue;
    results.push_back({{"assetId", hit.asset_id},
                       {"score", hit.distance},
                       {"originalFileName", (*asset)->original_file_name},
                       {"originalPath", (*asset)->original_path}});
  }
  if (as_json) {
    std::cout << json{{"mode", mode}, {"query", text}, {"results", results}}.dump(2) << "\n";
    return kExitOk;
  }
  if (results.empty()) {
    std::printf("No results (%s search).\n", mode.c_str());
    return kExitOk;
  }
  std::printf("%-4s %-8s %-10s %s\n", "#", "ASSET", mode == "smart" ? "DISTANCE" : "RANK", "PATH");
  int rank = 1;
  for (const auto& r : results) {
    std::printf("%-4d %-8lld %-10.4f %s\n", rank++, static_cast<long long>(r["assetId"].get<std::int64_t>()),
                r["score"].get<double>(), r["originalPath"].get<std::string>().c_str());
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------
// user create

// FOCAL_PASSWORD, the first line of FOCAL_PASSWORD_FILE (Docker/systemd secrets), or stdin.
Expected<std::string> read_password(const EnvMap& env) {
  if (const auto found = env.find("FOCAL_PASSWORD"); found != env.end()) return found->second;
  if (const auto found = env.find("FOCAL_PASSWORD_FILE"); found != env.end()) {
    std::ifstream file(found->second);
    std::string line;
    if (!file || !std::getline(file, line)) {
      return bad_request("FOCAL_PASSWORD_FILE=\"" + found->second +
                         "\": cannot read a password from its first line");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  const bool tty = isatty(STDIN_FILENO) == 1;
  termios old_mode{};
  if (tty) {
    std::fputs("Password: ", stderr);
    tcgetattr(STDIN_FILENO, &old_mode);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
    std::fputs("\n", stderr);
  }
  return password;
}

}  // namespace

int fail(const Error& error) {
  std::fprintf(stderr, "focal: %s\n", error.message.c_str());
  return kExitFailure;
}

int main_impl(int argc, char** argv) {
  CLI::App app{
      "focal: self-hosted photo library server (import, ML jobs, smart search, people).\n"
      "Works on the data directory FOCAL_DATA_DIR (default ~/.local/share/focal); see "
      "docs/configuration.md."};
  app.name("focal");
  app.set_version_flag("--version", cli::version_line("focal"));
  app.require_subcommand(1);

  const auto env = process_environment();
  auto parsed_config = parse_focal_config(env);
  if (!parsed_config) {
    std::fprintf(stderr, "focal: invalid configuration: %s\n", parsed_config.error().message.c_str());
    return kExitUsage;
  }
  FocalConfig cfg = *parsed_config;
  std::string data_dir_flag;
  app.add_option("--data-dir", data_dir_flag, "Data directory (overrides FOCAL_DATA_DIR)");
  std::string user_flag;
  app.add_option("--user", user_flag,
                 "Work on this user's library (login email; default: the instance owner, the first admin)");

  SignalWatcher signals;
  int exit_code = kExitOk;
  std::unique_ptr<Services> services;
  CliContext context;
  context.interrupted = &signals.interrupted();
  context.config = [&]() -> const FocalConfig& {
    if (!data_dir_flag.empty()) cfg.data_dir = data_dir_flag;
    return cfg;
  };
  context.services = [&]() -> Expected<Services*> {
    if (!services) {
      auto opened = Services::open(context.config(), env);
      if (!opened) return opened.error();
      services = std::move(*opened);
    }
    return services.get();
  };
  context.acting_user = [&]() -> Expected<std::int64_t> {
    auto s = context.services();
    if (!s) return s.error();
    if (user_flag.empty()) return (*s)->auth().instance_owner();
    auto user = (*s)->auth().user_by_email(user_flag);
    if (!user) return user.error();
    return user->id;
  };
  context.drain = [&](const jobs::DrainOptions& options) -> int {
    auto s = context.services();
    if (!s) return fail(s.error());
    return drain_queues(**s, options, signals.interrupted());
  };
  // Runs a command body with the services open; errors opening them become the exit code.
  auto with_services = [&](const std::function<int(Services&)>& body) {
    return [&, body] {
      auto s = context.services();
      exit_code = s ? body(**s) : fail(s.error());
    };
  };

  // serve
  auto* serve_cmd = app.add_subcommand("serve", "Run the REST API, job workers and folder watcher");
  std::string host_flag;
  int port_flag = -1;
  serve_cmd->add_option("--host", host_flag, "Bind address (overrides FOCAL_HOST, default 127.0.0.1)");
  serve_cmd->add_option("--port", port_flag, "Port (overrides FOCAL_PORT, default 2283; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  serve_cmd->callback([&] {
    init_logging(*parse_log_level(cfg.log_level), cfg.no_color);
    if (!host_flag.empty()) cfg.host = host_flag;
    if (port_flag >= 0) cfg.port = port_flag;
    with_services([&](Services& s) { return serve(s, signals, cfg); })();
  });

  // import
  auto* import_cmd =
      app.add_subcommand("import", "Add folders to the library, scan them and queue their jobs");
  std::vector<std::string> import_paths;
  bool import_wait = false;
  import_cmd->add_option("paths", import_paths, "Folders to import")
      ->required()
      ->check(CLI::ExistingDirectory);
  import_cmd->add_flag("--wait", import_wait, "Then run every queued job in the foreground until done");
  import_cmd->callback(with_services([&](Services& s) {
    auto owner = context.acting_user();
    if (!owner) return fail(owner.error());
    for (const auto& path : import_paths) {
      auto report = s.library().import_folder(path, *owner);
      if (!report) return fail(report.error());
      std::printf(
          "%s: %lld files, %lld new, %lld duplicates, %lld unchanged, %lld unsupported, %lld errors\n",
          path.c_str(), static_cast<long long>(report->files_seen), static_cast<long long>(report->imported),
          static_cast<long long>(report->duplicates), static_cast<long long>(report->unchanged),
          static_cast<long long>(report->unsupported), static_cast<long long>(report->errors));
    }
    if (!import_wait) {
      std::printf("Jobs queued; run them with `focal jobs run` (or keep `focal serve` running).\n");
      return kExitOk;
    }
    return context.drain(jobs::DrainOptions{});
  }));

  // jobs
  auto* jobs_cmd = app.add_subcommand("jobs", "Show and control the job queues (default: list)");
  bool jobs_json = false;
  jobs_cmd->add_flag("--json", jobs_json, "Print the queue list as JSON");
  auto list_queues = [&](Services& s) {
    auto all = s.queue().status_all();
    if (!all) return fail(all.error());
    if (jobs_json) {
      json out = json::array();
      for (const auto& q : *all) out.push_back(queue_status_json(q));
      std::cout << out.dump(2) << "\n";
    } else {
      print_queues(*all);
    }
    return kExitOk;
  };
  jobs_cmd->callback([&] {
    if (jobs_cmd->get_subcommands().empty()) with_services(list_queues)();
  });
  jobs_cmd->add_subcommand("list", "Counters of every queue")->callback(with_services(list_queues));

  std::string start_queue;
  bool start_all = false;
  bool start_missing = false;
  bool start_refresh = false;
  auto* start_cmd = jobs_cmd->add_subcommand("start", "Queue the queue-all job of QUEUE (default: missing)");
  start_cmd->add_option("queue", start_queue, "Queue name (e.g. smartSearch, faceDetection)")->required();
  auto* all_flag = start_cmd->add_flag("--all", start_all, "Reprocess everything (force)");
  start_cmd->add_flag("--missing", start_missing, "Only items not processed yet (default)")
      ->excludes(all_flag);
  start_cmd->add_flag("--refresh", start_refresh, "faceDetection only: re-detect without deleting")
      ->excludes(all_flag);
  start_cmd->callback(with_services([&](Services& s) {
    std::optional<bool> force = start_all ? std::optional<bool>(true) : std::optional<bool>(false);
    if (start_refresh) force = std::nullopt;
    if (auto st = s.queue().start(start_queue, force); !st) return fail(st.error());
    std::printf("Queued %s (%s); run it with `focal jobs run` or a running `focal serve`.\n",
                start_queue.c_str(), start_all ? "all" : (start_refresh ? "refresh" : "missing"));
    return kExitOk;
  }));

  struct QueueCommand {
    const char* name;
    const char* help;
    Status (jobs::JobQueue::*action)(std::string_view);
  };
  const QueueCommand queue_commands[] = {
      {"pause", "Pause QUEUE (running jobs finish)", &jobs::JobQueue::pause},
      {"resume", "Resume QUEUE", &jobs::JobQueue::resume},
      {"empty", "Remove waiting and delayed jobs of QUEUE", &jobs::JobQueue::empty},
      {"clear-failed", "Remove failed jobs of QUEUE", &jobs::JobQueue::clear_failed},
  };
  std::string command_queue;
  for (const auto& command : queue_commands) {
    auto* sub = jobs_cmd->add_subcommand(command.name, command.help);
    sub->add_option("queue", command_queue, "Queue name")->required();
    sub->callback(with_services([&command, &command_queue](Services& s) {
      if (auto st = (s.queue().*command.action)(command_queue); !st) return fail(st.error());
      std::printf("%s: %s\n", command_queue.c_str(), command.name);
      return kExitOk;
    }));
  }

  std::vector<std::string> run_queues;
  bool run_wait_delayed = false;
  auto* run_cmd = jobs_cmd->add_subcommand("run", "Process jobs in the foreground until the queues are idle");
  run_cmd->add_option("queues", run_queues, "Only these queues (default: all)");
  run_cmd->add_flag("--wait-delayed", run_wait_delayed, "Also wait for jobs retrying after an ML outage");
  run_cmd->callback([&] {
    jobs::DrainOptions options;
    options.queues = run_queues;
    options.wait_for_delayed = run_wait_delayed;
    exit_code = context.drain(options);
  });

  // search
  auto* search_cmd = app.add_subcommand(
      "search", "Search the library (smart search; --keyword for words, --ocr for text in photos)");
  std::string search_text;
  int search_limit = 20;
  bool search_json = false;
  bool search_keyword = false;
  bool search_ocr = false;
  search_cmd->add_option("query", search_text, "What to look for, e.g. \"dog on a beach\"")->required();
  search_cmd->add_option("-n,--limit", search_limit, "Number of results")->check(CLI::Range(1, 1000));
  search_cmd->add_flag("--json", search_json, "Print results as JSON");
  auto* keyword_flag = search_cmd->add_flag("-k,--keyword", search_keyword,
                                            "Keyword search (file name, camera, dates) instead of CLIP");
  search_cmd->add_flag("--ocr", search_ocr, "Find photos by the text in them (needs the OCR job)")
      ->excludes(keyword_flag);
  search_cmd->callback(with_services([&](Services& s) {
    auto owner = context.acting_user();
    if (!owner) return fail(owner.error());
    const auto mode = search_ocr       ? SearchMode::kOcr
                      : search_keyword ? SearchMode::kKeyword
                                       : SearchMode::kSmart;
    return run_search(s, *owner, search_text, search_limit, search_json, mode);
  }));

  // config
  auto* config_cmd = app.add_subcommand("config", "Show or change the system config (Immich key names)");
  config_cmd->require_subcommand(1);
  std::string config_key;
  std::string config_value;
  auto* get_cmd =
      config_cmd->add_subcommand("get", "Print the config, or one KEY (e.g. machineLearning.urls)");
  get_cmd->add_option("key", config_key, "Dotted key");
  get_cmd->callback(with_services([&](Services& s) {
    if (config_key.empty()) {
      std::cout << settings::to_json(s.settings().get()).dump(2) << "\n";
      return kExitOk;
    }
    auto value = s.settings().get_path(config_key);
    if (!value) return fail(value.error());
    std::cout << (value->is_string() ? value->get<std::string>() : value->dump(2)) << "\n";
    return kExitOk;
  }));
  auto* set_cmd = config_cmd->add_subcommand("set", "Set KEY to VALUE (JSON, or a plain string)");
  set_cmd->add_option("key", config_key, "Dotted key")->required();
  set_cmd->add_option("value", config_value, "New value")->required();
  set_cmd->callback(with_services([&](Services& s) {
    if (auto st = s.settings().set_path(config_key, config_value); !st) return fail(st.error());
    auto value = s.settings().get_path(config_key);
    if (!value) return fail(value.error());
    std::printf("%s = %s\n", config_key.c_str(), value->dump().c_str());
    return kExitOk;
  }));
  auto* reset_cmd = config_cmd->add_subcommand("reset", "Reset KEY (or everything) to the default");
  reset_cmd->add_option("key", config_key, "Dotted key (empty: the whole config)");
  reset_cmd->callback(with_services([&](Services& s) {
    if (auto st = s.settings().reset_path(config_key); !st) return fail(st.error());
    std::printf("%s reset to default\n", config_key.empty() ? "config" : config_key.c_str());
    return kExitOk;
  }));
  config_cmd->add_subcommand("env", "Print the process configuration (FOCAL_* variables)")->callback([&] {
    std::cout << context.config().to_json() << "\n";
  });

  // user
  auto* user_cmd = app.add_subcommand("user", "Manage users (the first admin, API access)");
  user_cmd->require_subcommand(1);
  std::string user_email;
  std::string user_name;
  bool user_admin = false;
  auto* create_cmd = user_cmd->add_subcommand(
      "create", "Create a user; the password is read from FOCAL_PASSWORD, FOCAL_PASSWORD_FILE or stdin");
  create_cmd->add_option("--email", user_email, "Login email")->required();
  create_cmd->add_option("--name", user_name, "Display name");
  create_cmd->add_flag("--admin", user_admin, "Make the user an admin");
  create_cmd->callback(with_services([&](Services& s) {
    const auto password = read_password(env);
    if (!password) return fail(password.error());
    auto user =
        s.auth().create_user(user_email, *password, user_name.empty() ? user_email : user_name, user_admin);
    if (!user) return fail(user.error());
    std::printf("Created %s %s (id %lld)\n", user->is_admin ? "admin" : "user", user->email.c_str(),
                static_cast<long long>(user->id));
    return kExitOk;
  }));
  user_cmd->add_subcommand("list", "List users")->callback(with_services([&](Services& s) {
    auto users = s.auth().list_users();
    if (!users) return fail(users.error());
    for (const auto& user : *users) {
      std::printf("%lld\t%s\t%s%s\n", static_cast<long long>(user.id), user.email.c_str(), user.name.c_str(),
                  user.is_admin ? "\tadmin" : "");
    }
    return kExitOk;
  }));

  app.add_subcommand("routes",
                     "Print every REST route with who may call it and the API key permission it needs")
      ->callback(with_services([&](Services& s) {
        std::cout << build_api(s, build::kVersion).describe().dump(2) << "\n";
        return kExitOk;
      }));

  register_people_cli(app, context, exit_code);
  register_db_cli(app, context, exit_code);

  // Logging: serve logs at FOCAL_LOG_LEVEL (default info); other commands keep stderr for their own output
  // unless the variable asks for more.
  const bool explicit_level = env.count("FOCAL_LOG_LEVEL") != 0;
  init_logging(*parse_log_level(explicit_level ? cfg.log_level : "warning"), cfg.no_color);

  const auto early_exit = cli::parse_or_exit(app, "focal", argc, argv);
  services.reset();  // stop workers and threads before the signal watcher goes away
  return early_exit.value_or(exit_code);
}

}  // namespace focal::app

int main(int argc, char** argv) { return focal::app::main_impl(argc, argv); }
