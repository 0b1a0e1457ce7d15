// SPDX-License-Identifier: AGPL-3.0-or-later
#include "http/request_parser.h"

#include "http/head_rules.h"

namespace focal::http {

ParsedHead parse_request_head(std::string_view bytes, const Limits& limits) {
  namespace bhttp = boost::beast::http;
  ParsedHead out;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
  parser.body_limit(boost::none);
  parser.eager(false);  // stop after the head, as the server's async_read_header does
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_header_done() && used < bytes.size()) {
    const auto n = parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (n == 0) break;
    }
    if (ec) {
      out.rejection = HeadRejection{ec == bhttp::error::header_limit ? 431 : 400, ec.message()};
      return out;
    }
    used += n;
    if (n == 0) break;
  }
  if (!parser.is_header_done()) {
    if (bytes.size() > limits.max_header_bytes)
      out.rejection = HeadRejection{431, "Request header fields too large"};
    return out;
  }
  out.head_bytes = used;
  out.keep_alive = parser.get().keep_alive();
  RequestHead head;
  if (auto rejected = detail::build_head(parser, limits, head)) {
    out.rejection = std::move(*rejected);
    return out;
  }
  out.head = std::move(head);
  return out;
}

}  // namespace focal::http
