// SPDX-License-Identifier: AGPL-3.0-or-later
// Schema of component "library" (the contract for readers in other components; only src/library writes it).
// Timestamps are ms since the Unix epoch. Paths are absolute. PostgreSQL has the same tables, with BIGINT for
// ids, times and sizes and DOUBLE PRECISION for REAL.
//
// Every library and asset has an owner (auth_user.id; 0 only for rows of databases older than ownership,
// handed to the instance owner at start-up by adopt_unowned()). Content is deduplicated per owner.
//
//   library(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, created_at, last_scanned_at NULL,
//           owner_id INTEGER NOT NULL)
//   asset(id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL,
//         library_id INTEGER NULL REFERENCES library ON DELETE SET NULL,  -- NULL: uploaded
//         type TEXT NOT NULL,               -- 'IMAGE' | 'VIDEO' | 'OTHER'
//         status TEXT NOT NULL,             -- 'pending' | 'ready' | 'corrupt' | 'unsupported' | 'offline'
//         status_reason TEXT NOT NULL DEFAULT '',
//         visibility TEXT NOT NULL,         -- 'timeline' | 'archive' | 'hidden' | 'locked'
//         original_path TEXT NOT NULL, original_file_name TEXT NOT NULL,
//         checksum TEXT NOT NULL,           -- lowercase hex SHA-256 of the file content
//         is_favorite INTEGER NOT NULL DEFAULT 0,
//         UNIQUE (owner_id, original_path), UNIQUE (owner_id, checksum)
//         file_type TEXT NOT NULL,          -- 'jpeg' | 'png' | 'webp' | 'heif' | 'tiff' | 'gif' | 'bmp' | ''
//         file_size INTEGER NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,  -- displayed size
//         file_created_at INTEGER NOT NULL,  -- date taken (UTC when the offset is known) else mtime
//         file_modified_at INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
//         deleted_at INTEGER NULL)
//   asset_file(asset_id REFERENCES asset ON DELETE CASCADE, type TEXT ('preview' | 'thumbnail'),
//              path TEXT NOT NULL, PRIMARY KEY (asset_id, type))   -- path relative to the data dir
//   asset_exif(asset_id INTEGER PRIMARY KEY REFERENCES asset ON DELETE CASCADE, make, model, lens_model,
//              description, rating INTEGER, orientation INTEGER, latitude REAL, longitude REAL,
//              date_time_original TEXT ('YYYY-MM-DDTHH:MM:SS[.sss]' camera local time), time_zone TEXT
//              ('+02:00'), exif_image_width INTEGER, exif_image_height INTEGER, file_size INTEGER NOT NULL)
//   asset_job_status(asset_id INTEGER PRIMARY KEY REFERENCES asset ON DELETE CASCADE,
//                    metadata_extracted_at INTEGER NULL, faces_recognized_at INTEGER NULL,
//                    duplicates_detected_at INTEGER NULL, ocr_at INTEGER NULL)
//        -- created by metadata extraction ("missing" scans require it, as in Immich); faces_recognized_at,
//        -- duplicates_detected_at and ocr_at are set by their components through library::set_job_status()
//   asset_duplicate_path(path TEXT PRIMARY KEY, asset_id REFERENCES asset ON DELETE CASCADE, seen_at)
//        -- files whose content equals an imported asset's (not imported twice)
//   import_issue(path TEXT PRIMARY KEY, reason TEXT NOT NULL, seen_at INTEGER NOT NULL)
//        -- files that produced no asset (unsupported type, unreadable)
#pragma once

#include <array>

#include "store/database.h"

namespace focal::library::detail {

inline constexpr std::array<store::Migration, 3> kMigrations{{
    {1, R"sql(
CREATE TABLE library (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_scanned_at INTEGER NULL
);
CREATE TABLE asset (
  id INTEGER PRIMARY KEY,
  library_id INTEGER NULL REFERENCES library (id) ON DELETE SET NULL,
  type TEXT NOT NULL DEFAULT 'IMAGE',
  status TEXT NOT NULL DEFAULT 'pending',
  status_reason TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL DEFAULT 'timeline',
  original_path TEXT NOT NULL UNIQUE,
  original_file_name TEXT NOT NULL,
  checksum TEXT NOT NULL UNIQUE,
  file_type TEXT NOT NULL DEFAULT '',
  file_size INTEGER NOT NULL DEFAULT 0,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  file_created_at INTEGER NOT NULL DEFAULT 0,
  file_modified_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER NULL
);
CREATE INDEX asset_library_idx ON asset (library_id);
CREATE INDEX asset_file_created_idx ON asset (file_created_at);
CREATE TABLE asset_file (
  asset_id INTEGER NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (asset_id, type)
);
CREATE TABLE asset_exif (
  asset_id INTEGER PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  make TEXT NULL,
  model TEXT NULL,
  lens_model TEXT NULL,
  description TEXT NULL,
  rating INTEGER NULL,
  orientation INTEGER NULL,
  latitude REAL NULL,
  longitude REAL NULL,
  date_time_original TEXT NULL,
  time_zone TEXT NULL,
  exif_image_width INTEGER NULL,
  exif_image_height INTEGER NULL,
  file_size INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE asset_job_status (
  asset_id INTEGER PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  metadata_extracted_at INTEGER NULL,
  faces_recognized_at INTEGER NULL,
  duplicates_detected_at INTEGER NULL,
  ocr_at INTEGER NULL
);
CREATE TABLE asset_duplicate_path (
  path TEXT PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  seen_at INTEGER NOT NULL
);
CREATE TABLE import_issue (
  path TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  seen_at INTEGER NOT NULL
);
)sql",
     false, R"sql(
CREATE TABLE library (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  last_scanned_at BIGINT NULL
);
CREATE TABLE asset (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  library_id BIGINT NULL REFERENCES library (id) ON DELETE SET NULL,
  type TEXT NOT NULL DEFAULT 'IMAGE',
  status TEXT NOT NULL DEFAULT 'pending',
  status_reason TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL DEFAULT 'timeline',
  original_path TEXT NOT NULL CONSTRAINT asset_original_path_key UNIQUE,
  original_file_name TEXT NOT NULL,
  checksum TEXT NOT NULL CONSTRAINT asset_checksum_key UNIQUE,
  file_type TEXT NOT NULL DEFAULT '',
  file_size BIGINT NOT NULL DEFAULT 0,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  file_created_at BIGINT NOT NULL DEFAULT 0,
  file_modified_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  deleted_at BIGINT NULL
);
CREATE INDEX asset_library_idx ON asset (library_id);
CREATE INDEX asset_file_created_idx ON asset (file_created_at);
CREATE TABLE asset_file (
  asset_id BIGINT NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (asset_id, type)
);
CREATE TABLE asset_exif (
  asset_id BIGINT PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  make TEXT NULL,
  model TEXT NULL,
  lens_model TEXT NULL,
  description TEXT NULL,
  rating INTEGER NULL,
  orientation INTEGER NULL,
  latitude DOUBLE PRECISION NULL,
  longitude DOUBLE PRECISION NULL,
  date_time_original TEXT NULL,
  time_zone TEXT NULL,
  exif_image_width INTEGER NULL,
  exif_image_height INTEGER NULL,
  file_size BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE asset_job_status (
  asset_id BIGINT PRIMARY KEY REFERENCES asset (id) ON DELETE CASCADE,
  metadata_extracted_at BIGINT NULL,
  faces_recognized_at BIGINT NULL,
  duplicates_detected_at BIGINT NULL,
  ocr_at BIGINT NULL
);
CREATE TABLE asset_duplicate_path (
  path TEXT PRIMARY KEY,
  asset_id BIGINT NOT NULL REFERENCES asset (id) ON DELETE CASCADE,
  seen_at BIGINT NOT NULL
);
CREATE TABLE import_issue (
  path TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  seen_at BIGINT NOT NULL
);
)sql"},
    // Ownership: asset is rebuilt because its UNIQUE constraints become per owner.
    {2, R"sql(
ALTER TABLE library ADD COLUMN owner_id INTEGER NOT NULL DEFAULT 0;
CREATE TABLE asset_v2 (
  id INTEGER PRIMARY KEY,
  owner_id INTEGER NOT NULL DEFAULT 0,
  library_id INTEGER NULL REFERENCES library (id) ON DELETE SET NULL,
  type TEXT NOT NULL DEFAULT 'IMAGE',
  status TEXT NOT NULL DEFAULT 'pending',
  status_reason TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL DEFAULT 'timeline',
  original_path TEXT NOT NULL,
  original_file_name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  file_type TEXT NOT NULL DEFAULT '',
  file_size INTEGER NOT NULL DEFAULT 0,
  width INTEGER NOT NULL DEFAULT 0,
  height INTEGER NOT NULL DEFAULT 0,
  file_created_at INTEGER NOT NULL DEFAULT 0,
  file_modified_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER NULL,
  is_favorite INTEGER NOT NULL DEFAULT 0,
  UNIQUE (owner_id, original_path),
  UNIQUE (owner_id, checksum)
);
INSERT INTO asset_v2 (id, library_id, type, status, status_reason, visibility, original_path, original_file_name,
                      checksum, file_type, file_size, width, height, file_created_at, file_modified_at,
                      created_at, updated_at, deleted_at)
  SELECT id, library_id, type, status, status_reason, visibility, original_path, original_file_name, checksum,
         file_type, file_size, width, height, file_created_at, file_modified_at, created_at, updated_at,
         deleted_at FROM asset;
DROP TABLE asset;
ALTER TABLE asset_v2 RENAME TO asset;
CREATE INDEX asset_library_idx ON asset (library_id);
CREATE INDEX asset_file_created_idx ON asset (file_created_at);
CREATE INDEX asset_owner_idx ON asset (owner_id, id);
)sql",
     true, R"sql(
ALTER TABLE library ADD COLUMN owner_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE asset ADD COLUMN owner_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE asset ADD COLUMN is_favorite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE asset DROP CONSTRAINT asset_original_path_key;
ALTER TABLE asset DROP CONSTRAINT asset_checksum_key;
ALTER TABLE asset ADD UNIQUE (owner_id, original_path);
ALTER TABLE asset ADD UNIQUE (owner_id, checksum);
CREATE INDEX asset_owner_idx ON asset (owner_id, id);
)sql"},
    // The timeline (GET /api/timeline/buckets, /bucket): one owner's assets by date taken. visibility and
    // deleted_at make it covering, so the month GROUP BY over 100k assets reads the index only.
    {3, R"sql(
CREATE INDEX asset_owner_created_idx ON asset (owner_id, file_created_at, visibility, deleted_at);
)sql",
     false, R"sql(
CREATE INDEX asset_owner_created_idx ON asset (owner_id, file_created_at, visibility, deleted_at);
)sql"},
}};

}  // namespace focal::library::detail
