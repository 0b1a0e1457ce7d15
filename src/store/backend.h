// SPDX-License-Identifier: AGPL-3.0-or-later
// What each engine implements behind Statement and Connection (store/sqlite.cpp, store/postgres.cpp).
// Internal to src/store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace focal::store::detail {

class StatementBackend {
 public:
  StatementBackend() = default;
  StatementBackend(const StatementBackend&) = delete;
  StatementBackend& operator=(const StatementBackend&) = delete;
  virtual ~StatementBackend() = default;

  virtual void bind_int64(int index, std::int64_t value) = 0;
  virtual void bind_double(int index, double value) = 0;
  virtual void bind_text(int index, std::string_view text) = 0;
  virtual void bind_null(int index) = 0;
  virtual void bind_blob(int index, std::span<const std::byte> bytes) = 0;
  virtual Expected<bool> step() = 0;
  virtual void reset() = 0;

  virtual bool is_null(int column) const = 0;
  virtual ValueType type(int column) const = 0;
  virtual std::int64_t int64(int column) const = 0;
  virtual double real(int column) const = 0;
  virtual std::string text(int column) const = 0;
  virtual std::vector<std::byte> blob(int column) const = 0;
};

// An SQLite connection to `path` (":memory:" for a private one).
Expected<std::unique_ptr<Connection>> open_sqlite(const std::string& path, bool read_only);
// A PostgreSQL connection from a libpq connection string or URI.
Expected<std::unique_ptr<Connection>> open_postgres(const std::string& url);

}  // namespace focal::store::detail
