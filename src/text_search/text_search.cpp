// SPDX-License-Identifier: AGPL-3.0-or-later
#include "text_search/text_search.h"

#include <spdlog/spdlog.h>
#include <unicode/unistr.h>

#include <array>

#include "core/storage.h"
#include "jobs/jobs.h"
#include "library/library.h"
#include "ml_client/ml_client.h"
#include "settings/settings.h"
#include "store/database.h"
#include "store/query.h"
#include "text_search/tokenize.h"

namespace focal::text_search {
namespace {

constexpr std::array<store::Migration, 1> kMigrations{{
    {1, R"sql(
CREATE TABLE asset_ocr (
  id INTEGER PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
  x3 REAL NOT NULL, y3 REAL NOT NULL, x4 REAL NOT NULL, y4 REAL NOT NULL,
  box_score REAL NOT NULL,
  text_score REAL NOT NULL,
  text TEXT NOT NULL,
  is_visible INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX asset_ocr_asset_idx ON asset_ocr (asset_id);
CREATE VIRTUAL TABLE ocr_search USING fts5(text, tokenize = 'trigram');
CREATE TRIGGER ocr_search_asset_deleted AFTER DELETE ON asset BEGIN
  DELETE FROM ocr_search WHERE rowid = old.id;
END;
)sql"},
}};

constexpr double kMinSimilarity = 0.5;     // pg_trgm.strict_word_similarity_threshold's default
constexpr std::size_t kQueueBatch = 1000;  // Immich's JOBS_ASSET_PAGINATION_SIZE

// The FTS5 trigram query that finds every document sharing a three-character run with a query word; empty
// when a word is shorter (then every document is a candidate).
std::string candidate_match(const std::vector<std::u32string>& query_words) {
  std::string match;
  for (const auto& word : query_words) {
    if (word.size() < 3) return {};
    for (std::size_t i = 0; i + 3 <= word.size(); ++i) {
      icu::UnicodeString trigram;
      for (std::size_t k = 0; k < 3; ++k) trigram.append(static_cast<UChar32>(word[i + k]));
      std::string utf8;
      trigram.toUTF8String(utf8);
      if (!match.empty()) match += " OR ";
      match += '"' + utf8 + '"';  // letters and digits only: nothing to escape
    }
  }
  return match;
}

std::string search_text(const std::vector<ml::TextLine>& lines) {
  std::string joined;
  for (const auto& line : lines) {
    const auto tokens = tokenize(line.text);
    if (tokens.empty()) continue;
    if (!joined.empty()) joined += ' ';
    joined += tokens;
  }
  return fold(joined);
}

}  // namespace

Status migrate(store::Database& db) { return db.migrate("ocr", kMigrations); }

struct TextSearchService::Impl {
  store::Database& db;
  settings::SettingsStore& settings;
  ml::MlClient& ml;
  const library::AssetRepository& assets;

  Status store_lines(std::int64_t asset_id, const std::vector<ml::TextLine>& lines) {
    const std::string text = search_text(lines);
    return db.write([&](store::Connection& c) -> Status {
      if (Status s = store::exec(c, "DELETE FROM asset_ocr WHERE asset_id = ?1", asset_id); !s) return s;
      auto insert = c.prepare(
          "INSERT INTO asset_ocr (asset_id, x1, y1, x2, y2, x3, y3, x4, y4, box_score, text_score, text) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
      if (!insert) return insert.error();
      for (const auto& line : lines) {
        insert->reset();
        const auto& box = line.box;
        store::bind_all(*insert, asset_id, box[0], box[1], box[2], box[3], box[4], box[5], box[6], box[7],
                        line.box_score, line.text_score, line.text);
        if (Status s = insert->run(); !s) return s;
      }
      if (Status s = store::exec(c, "DELETE FROM ocr_search WHERE rowid = ?1", asset_id); !s) return s;
      if (!text.empty()) {
        if (Status s = store::exec(c, "INSERT INTO ocr_search (rowid, text) VALUES (?1, ?2)", asset_id, text);
            !s)
          return s;
      }
      return library::set_job_status(c, asset_id, library::JobStatusColumn::kOcr, store::now_ms());
    });
  }
};

TextSearchService::TextSearchService(store::Database& db, settings::SettingsStore& settings, ml::MlClient& ml,
                                     const library::AssetRepository& assets)
    : impl_(std::make_unique<Impl>(Impl{db, settings, ml, assets})) {}

TextSearchService::~TextSearchService() = default;

Expected<OcrOutcome> TextSearchService::process(std::int64_t asset_id) {
  const settings::SystemConfig config = impl_->settings.get();
  if (!settings::ocr_enabled(config)) return OcrOutcome::kSkipped;
  auto asset = impl_->assets.get(asset_id);
  if (!asset) return asset.error();
  if (!*asset) {
    spdlog::warn("Ocr: asset {} not found", asset_id);
    return OcrOutcome::kFailed;
  }
  if ((*asset)->visibility == library::Visibility::kHidden) return OcrOutcome::kSkipped;
  auto preview = impl_->assets.preview_path(asset_id);
  if (!preview) return preview.error();
  if (!*preview) {
    spdlog::warn("Ocr: asset {} has no preview", asset_id);
    return OcrOutcome::kFailed;
  }
  auto bytes = read_file(**preview);
  if (!bytes) {
    spdlog::warn("Ocr: asset {}: {}", asset_id, bytes.error().message);
    return OcrOutcome::kFailed;
  }
  const auto& ocr = config.machine_learning.ocr;
  const ml::OcrOptions options{ocr.min_detection_score, ocr.max_resolution, ocr.min_recognition_score};
  auto lines = impl_->ml.ocr(ocr.model_name, options, *bytes);
  if (!lines) return lines.error();
  if (Status stored = impl_->store_lines(asset_id, *lines); !stored) return stored.error();
  return OcrOutcome::kSuccess;
}

Expected<std::vector<std::int64_t>> TextSearchService::assets_to_process(bool force) {
  if (force) {
    Status cleared = impl_->db.write([](store::Connection& c) -> Status {
      if (Status s = c.exec("DELETE FROM asset_ocr"); !s) return s;
      return c.exec("DELETE FROM ocr_search");
    });
    if (!cleared) return cleared.error();
  }
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<std::int64_t>> {
    std::string sql =
        "SELECT a.id FROM asset a "
        "JOIN asset_file f ON f.asset_id = a.id AND f.type = 'preview' "
        "LEFT JOIN asset_job_status j ON j.asset_id = a.id "
        "WHERE a.deleted_at IS NULL AND a.visibility != 'hidden'";
    if (!force) sql += " AND j.ocr_at IS NULL";
    sql += " ORDER BY a.id";
    return store::query<std::int64_t>(c, sql);
  });
}

Expected<std::unordered_set<std::int64_t>> TextSearchService::matching_assets(
    std::optional<std::int64_t> owner, std::string_view query) const {
  const std::string wanted = fold(tokenize(query));
  const auto query_words = words(wanted);
  if (query_words.empty()) return bad_request("ocr must contain at least one letter or digit");
  const std::string match = candidate_match(query_words);
  std::string sql = "SELECT o.rowid, o.text FROM ocr_search o JOIN asset a ON a.id = o.rowid WHERE 1 = 1";
  if (!match.empty()) sql += " AND ocr_search MATCH ?1";
  if (owner) sql += " AND a.owner_id = ?2";
  return impl_->db.read([&](store::Connection& c) -> Expected<std::unordered_set<std::int64_t>> {
    auto statement = c.prepare(sql);
    if (!statement) return statement.error();
    if (!match.empty()) statement->bind(1, std::string_view(match));
    if (owner) statement->bind(2, *owner);
    std::unordered_set<std::int64_t> found;
    Status walked = store::for_each_row(*statement, [&](const store::Statement& row) {
      if (strict_word_similarity(wanted, row.text(1)) >= kMinSimilarity) found.insert(row.int64(0));
    });
    if (!walked) return walked.error();
    return found;
  });
}

Expected<std::vector<StoredLine>> TextSearchService::lines(std::int64_t asset_id) const {
  return impl_->db.read([&](store::Connection& c) -> Expected<std::vector<StoredLine>> {
    return store::query(
        c,
        "SELECT text, x1, y1, x2, y2, x3, y3, x4, y4, box_score, text_score FROM asset_ocr "
        "WHERE asset_id = ?1 AND is_visible = 1 ORDER BY id",
        [](const store::Statement& row) {
          StoredLine line;
          line.text = row.text(0);
          for (int k = 0; k < 8; ++k)
            line.box[static_cast<std::size_t>(k)] = static_cast<float>(row.real(1 + k));
          line.box_score = static_cast<float>(row.real(9));
          line.text_score = static_cast<float>(row.real(10));
          return line;
        },
        asset_id);
  });
}

void TextSearchService::register_jobs(jobs::JobQueue& queue) {
  queue.register_handler(jobs::job::kOcr, jobs::queue::kOcr,
                         [this](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
                           const auto id = job.data.find("id");
                           if (id == job.data.end() || !id->is_number_integer())
                             return bad_request("Ocr: job data has no integer id");
                           auto outcome = process(id->get<std::int64_t>());
                           if (!outcome) return outcome.error();
                           switch (*outcome) {
                             case OcrOutcome::kSuccess:
                               return jobs::JobOutcome::kSuccess;
                             case OcrOutcome::kSkipped:
                               return jobs::JobOutcome::kSkipped;
                             case OcrOutcome::kFailed:
                               break;
                           }
                           return jobs::JobOutcome::kFailed;
                         });
  queue.register_handler(
      jobs::job::kOcrQueueAll, jobs::queue::kOcr,
      [this, &queue](const jobs::Job& job) -> Expected<jobs::JobOutcome> {
        auto config = impl_->settings.reload();  // queue-all jobs read the config fresh
        if (!config) return config.error();
        if (!settings::ocr_enabled(*config)) return jobs::JobOutcome::kSkipped;
        auto ids = assets_to_process(job.data.value("force", false));
        if (!ids) return ids.error();
        std::vector<jobs::JobRequest> batch;
        for (std::size_t i = 0; i < ids->size(); ++i) {
          batch.emplace_back(std::string(jobs::job::kOcr), nlohmann::json{{"id", (*ids)[i]}});
          if (batch.size() == kQueueBatch || i + 1 == ids->size()) {
            if (Status queued = queue.enqueue_all(batch); !queued) return queued.error();
            batch.clear();
          }
        }
        return jobs::JobOutcome::kSuccess;
      });
}

}  // namespace focal::text_search
