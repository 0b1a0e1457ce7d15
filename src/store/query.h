// SPDX-License-Identifier: AGPL-3.0-or-later
// Typed helpers over Connection/Statement, so that repositories state their SQL, parameters and column
// types instead of hand-writing prepare/bind/step loops.
//
//   Status s = exec(c, "UPDATE person SET name = ? WHERE id = ?", name, id);
//   auto ids = query<std::int64_t>(c, "SELECT id FROM asset WHERE owner_id = ?", owner);   // vector<int64_t>
//   auto row = query_one<std::string, std::optional<int>>(c, "SELECT a, b FROM t WHERE id = ?", id);
//   auto assets = query(c, sql, asset_from_row, from, to);  // rows mapped by a function of the Statement
//   auto n = query_value<std::int64_t>(c, "SELECT count(*) FROM asset");
//
// Parameters bind to ?1..?N in order. Errors from prepare and step are returned as they are: they already
// name the SQL and carry SQLite's message and error kind.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace focal::store {

// A float32 vector parameter, stored as Statement::bind_floats stores it (embeddings).
struct Floats {
  std::span<const float> values;
};

// A BLOB parameter (an empty span is an empty blob, not NULL).
struct Blob {
  std::span<const std::byte> bytes;
};

namespace detail {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
concept CharType = std::same_as<T, char> || std::same_as<T, signed char> || std::same_as<T, unsigned char> ||
    std::same_as<T, wchar_t> || std::same_as<T, char8_t> || std::same_as<T, char16_t> ||
    std::same_as<T, char32_t>;

template <class T>
concept PlainBindable = std::same_as<T, std::nullptr_t> || std::same_as<T, bool> ||
                        (std::integral<T> && !CharType<T>) ||
                        std::floating_point<T> || std::convertible_to<const T&, std::string_view> ||
                        std::same_as<T, Floats> || std::same_as<T, Blob>;

template <class T>
struct OptionalBindable : std::false_type {};
template <class T>
struct OptionalBindable<std::optional<T>> : std::bool_constant<PlainBindable<T>> {};

}  // namespace detail

// A C++ value that bind_all can bind: integers (bool as 0/1), floating point, text, nullptr (NULL), Floats,
// Blob, or a std::optional of one of these (NULL when empty).
template <class T>
concept Bindable = detail::PlainBindable<std::decay_t<T>> || detail::OptionalBindable<std::decay_t<T>>::value;

namespace detail {

template <class T>
void bind_one(Statement& statement, int index, const T& value) {
  if constexpr (IsOptional<T>::value) {
    if (value) {
      bind_one(statement, index, *value);
    } else {
      statement.bind(index, nullptr);
    }
  } else if constexpr (std::same_as<T, std::nullptr_t>) {
    statement.bind(index, nullptr);
  } else if constexpr (std::same_as<T, bool>) {
    statement.bind(index, std::int64_t{value ? 1 : 0});
  } else if constexpr (std::integral<T>) {
    statement.bind(index, static_cast<std::int64_t>(value));
  } else if constexpr (std::floating_point<T>) {
    statement.bind(index, static_cast<double>(value));
  } else if constexpr (std::same_as<T, Floats>) {
    statement.bind_floats(index, value.values);
  } else if constexpr (std::same_as<T, Blob>) {
    statement.bind_blob(index, value.bytes);
  } else if constexpr (std::same_as<T, const char*> || std::same_as<T, char*>) {
    if (value == nullptr) {
      statement.bind(index, nullptr);
    } else {
      statement.bind(index, std::string_view(value));
    }
  } else {
    statement.bind(index, std::string_view(value));
  }
}

}  // namespace detail

// Binds `args` to parameters 1..N.
template <Bindable... Args>
Statement& bind_all(Statement& statement, const Args&... args) {
  int index = 0;
  (detail::bind_one(statement, ++index, args), ...);
  return statement;
}

// Column `col` of the current row as T: std::int64_t, int, bool, double, std::string,
// std::vector<float> (a bind_floats blob), std::vector<std::byte>, or std::optional of one of these
// (nullopt for NULL). Non-optional types read NULL as SQLite converts it (0, empty).
template <class T>
T column(const Statement& row, int col) {
  if constexpr (detail::IsOptional<T>::value) {
    if (row.is_null(col)) return std::nullopt;
    return column<typename T::value_type>(row, col);
  } else if constexpr (std::same_as<T, std::int64_t>) {
    return row.int64(col);
  } else if constexpr (std::same_as<T, int>) {
    return static_cast<int>(row.int64(col));
  } else if constexpr (std::same_as<T, bool>) {
    return row.int64(col) != 0;
  } else if constexpr (std::same_as<T, double>) {
    return row.real(col);
  } else if constexpr (std::same_as<T, std::string>) {
    return row.text(col);
  } else if constexpr (std::same_as<T, std::vector<float>>) {
    return row.floats(col);
  } else if constexpr (std::same_as<T, std::vector<std::byte>>) {
    return row.blob(col);
  } else {
    static_assert(sizeof(T) == 0, "store::column: unsupported column type");
  }
}

namespace detail {
// A specialisation rather than std::conditional, so that naming Row<> (while the mapper overloads of query
// are tried) is not an error.
template <class... T>
struct RowOf {
  using Type = std::tuple<T...>;
};
template <class T>
struct RowOf<T> {
  using Type = T;
};
}  // namespace detail

// One row as a T (one column) or a std::tuple<T...> (several, in column order).
template <class... T>
using Row = typename detail::RowOf<T...>::Type;

template <class... T>
requires(sizeof...(T) > 0) Row<T...> columns(const Statement& row) {
  if constexpr (sizeof...(T) == 1) {
    return column<T...>(row, 0);
  } else {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<T...>{column<T>(row, static_cast<int>(I))...};
    }
    (std::index_sequence_for<T...>{});
  }
}

namespace detail {

// Runs a row callback returning Status or void.
template <class RowFn>
Status call_row(RowFn& row_fn, const Statement& row) {
  if constexpr (std::is_void_v<std::invoke_result_t<RowFn&, const Statement&>>) {
    row_fn(row);
    return {};
  } else {
    return row_fn(row);
  }
}

}  // namespace detail

// Steps an already prepared and bound statement through every row, calling `row_fn(const Statement&)`
// (returning Status or void; a failed Status stops the walk and is returned).
template <class RowFn>
requires std::invocable<RowFn&, const Statement&> Status for_each_row(Statement& statement, RowFn&& row_fn) {
  while (true) {
    Expected<bool> more = statement.step();
    if (!more) return more.error();
    if (!*more) return {};
    if (Status status = detail::call_row(row_fn, statement); !status) return status;
  }
}

// Prepares `sql` and binds `args`.
template <Bindable... Args>
Expected<Statement> prepare(Connection& connection, std::string_view sql, const Args&... args) {
  Expected<Statement> statement = connection.prepare(sql);
  if (statement) bind_all(*statement, args...);
  return statement;
}

// Runs `sql` with `args`, ignoring any rows.
template <Bindable... Args>
Status exec(Connection& connection, std::string_view sql, const Args&... args) {
  Expected<Statement> statement = prepare(connection, sql, args...);
  if (!statement) return statement.error();
  return statement->run();
}

// Runs `sql` with `args`, calling `row_fn(const Statement&)` for every row (see the Statement overload).
template <class RowFn, Bindable... Args>
requires std::invocable<RowFn&, const Statement&> Status for_each_row(Connection& connection,
                                                                      std::string_view sql, RowFn&& row_fn,
                                                                      const Args&... args) {
  Expected<Statement> statement = prepare(connection, sql, args...);
  if (!statement) return statement.error();
  return for_each_row(*statement, row_fn);
}

// Every row, read as Row<T...>.
template <class... T, Bindable... Args>
requires(sizeof...(T) > 0) Expected<std::vector<Row<T...>>> query(Connection& connection,
                                                                  std::string_view sql, const Args&... args) {
  std::vector<Row<T...>> rows;
  Status status = for_each_row(
      connection, sql, [&](const Statement& row) { rows.push_back(columns<T...>(row)); }, args...);
  if (!status) return status.error();
  return rows;
}

// Every row, mapped by `from_row(const Statement&)`.
template <class FromRow, Bindable... Args>
requires std::invocable<FromRow&, const Statement&>
auto query(Connection& connection, std::string_view sql, FromRow&& from_row, const Args&... args)
    -> Expected<std::vector<std::decay_t<std::invoke_result_t<FromRow&, const Statement&>>>> {
  std::vector<std::decay_t<std::invoke_result_t<FromRow&, const Statement&>>> rows;
  Status status = for_each_row(
      connection, sql, [&](const Statement& row) { rows.push_back(from_row(row)); }, args...);
  if (!status) return status.error();
  return rows;
}

// The first row read as Row<T...>, or nullopt when there is none. Later rows are not read.
template <class... T, Bindable... Args>
requires(sizeof...(T) > 0) Expected<std::optional<Row<T...>>> query_one(Connection& connection,
                                                                        std::string_view sql,
                                                                        const Args&... args) {
  Expected<Statement> statement = prepare(connection, sql, args...);
  if (!statement) return statement.error();
  Expected<bool> found = statement->step();
  if (!found) return found.error();
  if (!*found) return std::optional<Row<T...>>{};
  return std::optional<Row<T...>>{columns<T...>(*statement)};
}

// The first row mapped by `from_row(const Statement&)`, or nullopt when there is none.
template <class FromRow, Bindable... Args>
requires std::invocable<FromRow&, const Statement&>
auto query_one(Connection& connection, std::string_view sql, FromRow&& from_row, const Args&... args)
    -> Expected<std::optional<std::decay_t<std::invoke_result_t<FromRow&, const Statement&>>>> {
  using Value = std::decay_t<std::invoke_result_t<FromRow&, const Statement&>>;
  Expected<Statement> statement = prepare(connection, sql, args...);
  if (!statement) return statement.error();
  Expected<bool> found = statement->step();
  if (!found) return found.error();
  if (!*found) return std::optional<Value>{};
  return std::optional<Value>{from_row(*statement)};
}

// Column 0 of the first row, for queries that always return a row (aggregates such as count(*)); no row
// is an internal error naming the SQL.
template <class T, Bindable... Args>
Expected<T> query_value(Connection& connection, std::string_view sql, const Args&... args) {
  Expected<std::optional<T>> row = query_one<T>(connection, sql, args...);
  if (!row) return std::move(row).error();
  if (!*row) return internal_error("query of '" + std::string(sql) + "' returned no row");
  return std::move(**row);
}

// `row` ("(?, ?)") `count` times, comma-separated: the VALUES list of a multi-row INSERT.
std::string repeated_rows(std::string_view row, std::size_t count);

// Runs `fn(Connection&, first_id, last_id)` in one write transaction per `chunk` consecutive ids of the sorted
// `ids`: a rewrite of a large table in short transactions, so that other writers interleave. Stops at the
// first failure.
template <class Fn>
Status write_in_chunks(Database& db, std::span<const std::int64_t> ids, std::size_t chunk, Fn&& fn) {
  for (std::size_t begin = 0; begin < ids.size(); begin += chunk) {
    const std::size_t end = std::min(ids.size(), begin + chunk);
    Status written =
        db.write([&](Connection& connection) { return Status(fn(connection, ids[begin], ids[end - 1])); });
    if (!written) return written;
  }
  return {};
}

// A JSON array of ids: one parameter for any number of ids, read by id_list().
std::string json_ids(std::span<const std::int64_t> ids);

// `(SELECT … )`, the ids of the json_ids() array bound to `parameter` ("?" or "?N") as a subquery for
// `x IN …`: SQLite's json_each, PostgreSQL's json_array_elements_text.
std::string id_list(const Connection& connection, std::string_view parameter);

}  // namespace focal::store
