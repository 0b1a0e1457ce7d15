// SPDX-License-Identifier: AGPL-3.0-or-later
// Errors as values: every fallible operation on a request path returns Expected<T>.
// The HTTP status for an error kind is decided in exactly one place (http_status).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace focal {

enum class ErrorKind {
  kBadRequest,        // 400: the request is well-formed but unusable (Immich's own 400 cases)
  kUnauthorized,      // 401: missing or wrong credentials
  kForbidden,         // 403: authenticated but not allowed
  kNotFound,          // 404
  kMethodNotAllowed,  // 405
  kLengthRequired,    // 411
  kConflict,          // 409: the request conflicts with the current state (e.g. a job already running)
  kPayloadTooLarge,   // 413
  kUnprocessable,     // 422: the request content is invalid
  kTooManyRequests,   // 429: rate limited (failed logins)
  kInternal,          // 500
  kNotImplemented,    // 501: a valid task for which no model backend exists
  kUnavailable,       // 503
  kStorageFull,       // 507: the data directory or database is out of space; the work can be retried later
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

int http_status(ErrorKind kind);

template <class T>
class Expected;

template <class U, class T>
concept ValueFor = std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, Error> &&
                   !std::is_same_v<std::remove_cvref_t<U>, Expected<T>>;

template <class T>
class [[nodiscard]] Expected {
 public:
  // Implicit, so that `return value;` and `return error;` both work in functions returning Expected<T>.
  template <ValueFor<T> U = T>
  Expected(U&& value)  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
      : state_(std::in_place_type<T>, std::forward<U>(value)) {}
  Expected(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<Error>(state_); }
  Error&& error() && { return std::get<Error>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

// Expected<void> equivalent.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error bad_request(std::string message) { return {ErrorKind::kBadRequest, std::move(message)}; }
inline Error unprocessable(std::string message) { return {ErrorKind::kUnprocessable, std::move(message)}; }
inline Error internal_error(std::string message) { return {ErrorKind::kInternal, std::move(message)}; }
inline Error not_found(std::string message) { return {ErrorKind::kNotFound, std::move(message)}; }

}  // namespace focal
