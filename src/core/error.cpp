// SPDX-License-Identifier: AGPL-3.0-or-later
#include "core/error.h"

namespace focal {

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadRequest:
      return 400;
    case ErrorKind::kUnauthorized:
      return 401;
    case ErrorKind::kForbidden:
      return 403;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kMethodNotAllowed:
      return 405;
    case ErrorKind::kLengthRequired:
      return 411;
    case ErrorKind::kConflict:
      return 409;
    case ErrorKind::kPayloadTooLarge:
      return 413;
    case ErrorKind::kUnprocessable:
      return 422;
    case ErrorKind::kInternal:
      return 500;
    case ErrorKind::kNotImplemented:
      return 501;
    case ErrorKind::kTooManyRequests:
      return 429;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kStorageFull:
      return 507;
  }
  return 500;
}

}  // namespace focal
