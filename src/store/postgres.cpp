// SPDX-License-Identifier: AGPL-3.0-or-later
// The PostgreSQL engine (libpq): a library that several focal processes share.
//
// Statements keep the components' SQLite-style parameters (`?`, `?N`), rewritten to `$N` once at prepare.
// Parameters travel typed (int8, float8, text, bytea) so that expressions like `?1 IS NULL` need no casts;
// results come back in text format, which reads every column type (counts are int8, sums numeric) without
// a per-type binary decoder.
#include <libpq-fe.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/logging.h"
#include "core/storage.h"
#include "store/backend.h"

namespace focal::store::detail {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across releases.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

// Error kinds by SQLSTATE class: integrity violations are conflicts (as SQLite's constraint errors), a full
// disk stops the work until space is freed, and a lost connection, a serialisation failure or a deadlock
// is worth retrying.
Error postgres_error(const PGresult* result, PGconn* conn, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const std::string_view code = state != nullptr ? state : "";
  if (code == "53100")
    return storage_full({}, "database: " + std::string(what.substr(0, 200)) + ": " + message);
  ErrorKind kind = ErrorKind::kInternal;
  if (code.empty()) {
    if (PQstatus(conn) != CONNECTION_OK) kind = ErrorKind::kUnavailable;  // no answer: the connection broke
  } else if (code.starts_with("23")) {
    kind = ErrorKind::kConflict;
  } else if (code.starts_with("08") || code.starts_with("57") || code == "40001" || code == "40P01" ||
             code == "55P03" || code == "53300") {
    kind = ErrorKind::kUnavailable;
  }
  return Error{kind, std::string(what) + ": " + message};
}

struct Placeholders {
  std::string sql;
  int count = 0;
  std::vector<bool> used;  // by number - 1: a `?N` may skip numbers (`?2` alone)
};

// Rewrites `?` and `?N` to `$N` outside string literals, quoted identifiers and comments. A bare `?` takes
// the number after the largest one so far, as in SQLite.
Placeholders rewrite_placeholders(std::string_view sql) {
  Placeholders out;
  out.sql.reserve(sql.size() + 8);
  std::size_t i = 0;
  const auto copy_quoted = [&](char quote) {
    out.sql += sql[i++];
    while (i < sql.size()) {
      const char c = sql[i++];
      out.sql += c;
      if (c == quote) {
        if (i < sql.size() && sql[i] == quote) {
          out.sql += sql[i++];  // a doubled quote stays inside
          continue;
        }
        return;
      }
    }
  };
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      copy_quoted(c);
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const std::size_t end = sql.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? sql.size() : end;
      out.sql.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '?') {
      ++i;
      int number = 0;
      const auto [end, ec] = std::from_chars(sql.data() + i, sql.data() + sql.size(), number);
      if (ec == std::errc() && number > 0) {
        i = static_cast<std::size_t>(end - sql.data());
      } else {
        number = out.count + 1;
      }
      out.count = std::max(out.count, number);
      if (out.used.size() < static_cast<std::size_t>(number))
        out.used.resize(static_cast<std::size_t>(number));
      out.used[static_cast<std::size_t>(number) - 1] = true;
      out.sql += '$';
      out.sql += std::to_string(number);
    } else {
      out.sql += c;
      ++i;
    }
  }
  return out;
}

std::string double_text(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  std::array<char, 32> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return ec == std::errc() ? std::string(buffer.data(), end) : std::to_string(value);
}

// Rows an INSERT/UPDATE/DELETE touched (0 for other commands), as SQLite's changes() counts them.
std::int64_t affected_rows(PGresult* result) {
  const char* affected = PQcmdTuples(result);
  return affected != nullptr && *affected != '\0' ? std::strtoll(affected, nullptr, 10) : 0;
}

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

class PostgresStatement final : public StatementBackend {
 public:
  PostgresStatement(PGconn* conn, std::int64_t* changes, std::string_view sql)
      : conn_(conn), changes_(changes), original_(sql) {
    Placeholders rewritten = rewrite_placeholders(sql);
    sql_ = std::move(rewritten.sql);
    params_.resize(static_cast<std::size_t>(rewritten.count));
    // A number the SQL skips still travels (libpq sends $1..$N), typed so that the server accepts it.
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (!rewritten.used[i]) params_[i].type = kTextOid;
    }
  }

  void bind_int64(int index, std::int64_t value) override { set(index, std::to_string(value), kInt8Oid, 0); }
  void bind_double(int index, double value) override { set(index, double_text(value), kFloat8Oid, 0); }
  void bind_text(int index, std::string_view text) override { set(index, std::string(text), kTextOid, 0); }
  void bind_null(int index) override {
    if (Param* param = at(index)) param->value.reset();  // keeps an unused number's type
  }
  void bind_blob(int index, std::span<const std::byte> bytes) override {
    set(index, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()), kByteaOid, 1);
  }

  Expected<bool> step() override {
    if (!result_) {
      if (Status ran = execute(); !ran) return ran.error();
    }
    ++row_;
    return row_ < PQntuples(result_.get());
  }

  void reset() override {
    result_.reset();
    row_ = -1;
  }

  bool is_null(int column) const override { return PQgetisnull(result_.get(), row_, column) != 0; }
  ValueType type(int column) const override {
    if (is_null(column)) return ValueType::kNull;
    switch (PQftype(result_.get(), column)) {
      case kBoolOid:
      case kInt2Oid:
      case kInt4Oid:
      case kInt8Oid:
        return ValueType::kInteger;
      case kFloat4Oid:
      case kFloat8Oid:
      case kNumericOid:
        return ValueType::kReal;
      case kByteaOid:
        return ValueType::kBlob;
      default:
        return ValueType::kText;
    }
  }

  std::int64_t int64(int column) const override {
    const std::string_view value = raw(column);
    std::int64_t number = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec == std::errc() && end == value.data() + value.size()) return number;
    if (value == "t") return 1;  // booleans (EXISTS, comparisons)
    if (value == "f" || value.empty()) return 0;
    return static_cast<std::int64_t>(real(column));  // numeric or float text
  }

  double real(int column) const override {
    const std::string value(raw(column));
    return value.empty() ? 0.0 : std::strtod(value.c_str(), nullptr);
  }

  std::string text(int column) const override { return std::string(raw(column)); }

  std::vector<std::byte> blob(int column) const override {
    const std::string_view value = raw(column);
    if (PQftype(result_.get(), column) != kByteaOid) {
      const auto* bytes = reinterpret_cast<const std::byte*>(value.data());
      return {bytes, bytes + value.size()};
    }
    std::size_t size = 0;
    unsigned char* decoded = PQunescapeBytea(reinterpret_cast<const unsigned char*>(value.data()), &size);
    if (decoded == nullptr) return {};
    std::vector<std::byte> out(size);
    if (size > 0) std::memcpy(out.data(), decoded, size);
    PQfreemem(decoded);
    return out;
  }

 private:
  struct Param {
    std::optional<std::string> value;
    Oid type = 0;
    int format = 0;
  };

  Param* at(int index) {
    if (index < 1 || static_cast<std::size_t>(index) > params_.size()) {
      bind_error_ = "parameter " + std::to_string(index) + " out of range (the statement has " +
                    std::to_string(params_.size()) + ")";
      return nullptr;
    }
    return &params_[static_cast<std::size_t>(index) - 1];
  }

  void set(int index, std::string value, Oid type, int format) {
    if (Param* param = at(index)) *param = Param{std::move(value), type, format};
  }

  std::string_view raw(int column) const {
    if (!result_ || row_ < 0 || row_ >= PQntuples(result_.get()) || column < 0 ||
        column >= PQnfields(result_.get())) {
      return {};
    }
    return {PQgetvalue(result_.get(), row_, column),
            static_cast<std::size_t>(PQgetlength(result_.get(), row_, column))};
  }

  Status execute() {
    const std::string what = "step of '" + original_ + "'";
    if (!bind_error_.empty()) return internal_error(what + ": " + bind_error_);
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const Param& param : params_) {
      types.push_back(param.type);
      values.push_back(param.value ? param.value->data() : nullptr);
      lengths.push_back(param.value ? static_cast<int>(param.value->size()) : 0);
      formats.push_back(param.format);
    }
    result_.reset(PQexecParams(conn_, sql_.c_str(), static_cast<int>(params_.size()), types.data(),
                               values.data(), lengths.data(), formats.data(), 0));
    const ExecStatusType status = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      Error failed = postgres_error(result_.get(), conn_, what);
      result_.reset();
      return failed;
    }
    *changes_ = affected_rows(result_.get());
    return {};
  }

  PGconn* conn_;
  std::int64_t* changes_;
  std::string original_;
  std::string sql_;
  std::vector<Param> params_;
  std::string bind_error_;
  Result result_;
  int row_ = -1;
};

void log_notice(void* /*unused*/, const char* message) { spdlog::debug("postgresql: {}", message); }

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;
  ~PostgresConnection() override { PQfinish(conn_); }

  Engine engine() const override { return Engine::kPostgres; }

  Expected<Statement> prepare(std::string_view sql) override {
    return Statement(std::make_unique<PostgresStatement>(conn_, &changes_, sql));
  }

  Status exec(std::string_view sql) override {
    const std::string owned(sql);
    const Result result(PQexec(conn_, owned.c_str()));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return postgres_error(result.get(), conn_, "exec of '" + owned + "'");
    }
    changes_ = affected_rows(result.get());
    return {};
  }

  // lastval(): the value the last nextval() of this session returned, which an identity column's INSERT is.
  std::int64_t last_insert_rowid() override {
    const Result result(PQexec(conn_, "SELECT lastval()"));
    if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) != 1) return 0;
    return std::strtoll(PQgetvalue(result.get(), 0, 0), nullptr, 10);
  }

  std::int64_t changes() const override { return changes_; }

  Status ensure_open() override {
    if (PQstatus(conn_) == CONNECTION_OK) return {};
    spdlog::warn("postgresql: connection lost, reconnecting");
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Error{ErrorKind::kUnavailable, "cannot reconnect to PostgreSQL: " + error_message(conn_)};
    }
    return configure();
  }

  Status configure() {
    PQsetNoticeProcessor(conn_, log_notice, nullptr);
    if (PQsetClientEncoding(conn_, "UTF8") != 0) {
      return internal_error("PostgreSQL: cannot use client encoding UTF8: " + error_message(conn_));
    }
    return exec("SET client_min_messages = warning");
  }

  static std::string error_message(PGconn* conn) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return message;
  }

 private:
  PGconn* conn_;
  std::int64_t changes_ = 0;
};

}  // namespace

Expected<std::unique_ptr<Connection>> open_postgres(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr) return internal_error("PostgreSQL: out of memory opening a connection");
  auto connection = std::make_unique<PostgresConnection>(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    // The URL is not repeated: it may carry a password.
    return Error{ErrorKind::kUnavailable,
                 "cannot connect to PostgreSQL: " + PostgresConnection::error_message(conn)};
  }
  if (Status configured = connection->configure(); !configured) return configured.error();
  return std::unique_ptr<Connection>(std::move(connection));
}

}  // namespace focal::store::detail
