// SPDX-License-Identifier: AGPL-3.0-or-later
// The HTTP front's request-head rules as a pure function over bytes: what the server accepts, refuses (with
// which status) or still waits for. The server runs the same code on its sockets; the fuzzer runs it here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "http/server.h"

namespace focal::http {

struct HeadRejection {
  int status = 400;
  std::string message;
};

struct ParsedHead {
  std::optional<RequestHead> head;  // a complete, acceptable head
  std::optional<HeadRejection> rejection;
  std::size_t head_bytes = 0;  // bytes the head took (the body, if any, follows)
  bool keep_alive = true;
  // Neither head nor rejection: more bytes are needed.
};

ParsedHead parse_request_head(std::string_view bytes, const Limits& limits);

}  // namespace focal::http
