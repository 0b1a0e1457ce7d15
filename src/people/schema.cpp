// SPDX-License-Identifier: AGPL-3.0-or-later
// Migrations of component "people" (tables documented in people.h).
#include <array>

#include "people/people.h"
#include "store/database.h"

namespace focal::people {
namespace {

constexpr std::array<store::Migration, 3> kMigrations{{
    {1, R"sql(
CREATE TABLE person (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  birth_date TEXT NULL,
  is_hidden INTEGER NOT NULL DEFAULT 0,
  is_favorite INTEGER NOT NULL DEFAULT 0,
  color TEXT NULL,
  thumbnail_path TEXT NOT NULL DEFAULT '',
  feature_face_id INTEGER NULL REFERENCES asset_face (id) ON DELETE SET NULL
);
CREATE TABLE asset_face (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  asset_id INTEGER NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  person_id INTEGER NULL REFERENCES person (id) ON DELETE SET NULL,
  image_width INTEGER NOT NULL,
  image_height INTEGER NOT NULL,
  x1 INTEGER NOT NULL,
  y1 INTEGER NOT NULL,
  x2 INTEGER NOT NULL,
  y2 INTEGER NOT NULL,
  score REAL NOT NULL DEFAULT 0,
  source_type TEXT NOT NULL DEFAULT 'machine-learning',
  is_visible INTEGER NOT NULL DEFAULT 1,
  deleted_at INTEGER NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX asset_face_asset_person_idx ON asset_face (asset_id, person_id);
CREATE INDEX asset_face_person_asset_idx ON asset_face (person_id, asset_id);
CREATE INDEX person_feature_face_idx ON person (feature_face_id);
CREATE TABLE face_search (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  face_id INTEGER NOT NULL UNIQUE REFERENCES asset_face (id) ON DELETE CASCADE,
  embedding BLOB NOT NULL
);
CREATE TABLE people_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql"},
    // Ownership: a person belongs to the owner of its faces' assets (0 for older rows until adopted).
    {2, R"sql(
ALTER TABLE person ADD COLUMN owner_id INTEGER NOT NULL DEFAULT 0;
CREATE INDEX person_owner_idx ON person (owner_id);
)sql"},
    // Face models of any embedding size: each embedding names the model that produced it and its dimension,
    // so clustering compares only one model's embeddings. Older rows get their model ('' until the service
    // adopts them for the configured model at start) and the dimension their blob holds.
    {3, R"sql(
ALTER TABLE face_search ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE face_search ADD COLUMN dim INTEGER NOT NULL DEFAULT 0;
UPDATE face_search SET dim = length(embedding) / 4;
CREATE INDEX face_search_model_seq_idx ON face_search (model, seq);
)sql"},
}};

}  // namespace

Status migrate(store::Database& db) { return db.migrate("people", kMigrations); }

}  // namespace focal::people
