// SPDX-License-Identifier: AGPL-3.0-or-later
// Schema of component "jobs" (the contract for readers in other components; only src/jobs writes it).
//
//   job(id INTEGER PRIMARY KEY,     -- insertion order = FIFO within a priority
//       queue TEXT NOT NULL,        -- Immich QueueName, e.g. 'smartSearch'
//       name TEXT NOT NULL,         -- Immich JobName, e.g. 'SmartSearch'
//       data TEXT NOT NULL,         -- JSON payload
//       priority INTEGER NOT NULL,  -- lower first (0 = Immich's "no priority")
//       state TEXT NOT NULL,        -- 'waiting' | 'delayed' | 'active' | 'failed' (completed rows are deleted)
//       dedupe_key TEXT NULL,       -- unique among waiting/delayed jobs
//       attempts INTEGER NOT NULL,  -- claims so far
//       run_at INTEGER NOT NULL,    -- ms epoch; a delayed job becomes waiting at run_at
//       lease_owner TEXT NULL,      -- worker id while active
//       lease_until INTEGER NULL,   -- ms epoch; an active job past it is returned to waiting
//       error TEXT NULL,            -- last error (retries, failures)
//       created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)
//   job_queue(queue TEXT PRIMARY KEY, is_paused INTEGER NOT NULL,
//             completed INTEGER NOT NULL)  -- count of completed jobs (rows are deleted on completion)
//   job_schedule(name TEXT PRIMARY KEY, last_run TEXT NOT NULL)  -- local date (YYYY-MM-DD) of the last daily
//                                                                   run claimed (jobs/daily.h)
#pragma once

#include <array>

#include "store/database.h"

namespace focal::jobs::detail {

inline constexpr std::array<store::Migration, 2> kMigrations{{
    {1, R"sql(
CREATE TABLE job (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  priority INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('waiting', 'delayed', 'active', 'failed')),
  dedupe_key TEXT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  lease_owner TEXT NULL,
  lease_until INTEGER NULL,
  error TEXT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX job_claim_idx ON job (queue, state, priority, id);
CREATE INDEX job_lease_idx ON job (state, lease_until);
CREATE UNIQUE INDEX job_dedupe_idx ON job (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('waiting', 'delayed');
CREATE TABLE job_queue (
  queue TEXT PRIMARY KEY,
  is_paused INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0
);
)sql"},
    {2, R"sql(
CREATE TABLE job_schedule (
  name TEXT PRIMARY KEY,
  last_run TEXT NOT NULL
);
)sql"},
}};

}  // namespace focal::jobs::detail
