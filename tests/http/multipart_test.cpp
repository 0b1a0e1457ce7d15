// SPDX-License-Identifier: AGPL-3.0-or-later
// multipart/form-data and the other request-text parsers of the HTTP front.
#include "http/multipart.h"

#include <gtest/gtest.h>

#include "http/form.h"

namespace focal::http {
namespace {

std::string body_of(std::initializer_list<std::pair<std::string, std::string>> fields,
                    const std::string& b = "B") {
  std::string out;
  for (const auto& [head, content] : fields) out += "--" + b + "\r\n" + head + "\r\n\r\n" + content + "\r\n";
  return out + "--" + b + "--\r\n";
}

TEST(Multipart, ParsesFieldsAndFilesInOrder) {
  const auto body = body_of({{"Content-Disposition: form-data; name=\"entries\"", "{\"a\":1}"},
                             {"Content-Disposition: form-data; name=\"image\"; filename=\"blob\"\r\n"
                              "Content-Type: application/octet-stream",
                              std::string("\0\r\n--B-not-a-boundary\xff", 21)}});
  auto parts = parse_multipart(body, "B");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2U);
  EXPECT_EQ((*parts)[0].name, "entries");
  EXPECT_EQ((*parts)[0].content, "{\"a\":1}");
  EXPECT_FALSE((*parts)[0].is_file);
  EXPECT_EQ((*parts)[1].filename, "blob");
  EXPECT_TRUE((*parts)[1].is_file);
  EXPECT_EQ((*parts)[1].content_type, "application/octet-stream");
  EXPECT_EQ((*parts)[1].content, std::string("\0\r\n--B-not-a-boundary\xff", 21));
  EXPECT_EQ(find_part(*parts, "image"), &(*parts)[1]);
  EXPECT_EQ(find_part(*parts, "text"), nullptr);
}

TEST(Multipart, AcceptsWhatClientsSend) {
  // Preamble and epilogue, LF-only lines, header names in any case, quoted names with escapes.
  const std::string body =
      "preamble\r\n--B\ncontent-disposition: FORM-DATA; name=\"a \\\"q\\\"\"\n\nx\r\n--B--\r\nepilogue";
  auto parts = parse_multipart(body, "B");
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 1U);
  EXPECT_EQ((*parts)[0].name, "a \"q\"");
  EXPECT_EQ((*parts)[0].content, "x");
}

TEST(Multipart, EmptyContentAndEmptyForm) {
  auto parts = parse_multipart("--B\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n\r\n--B--", "B");
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ((*parts)[0].content, "");
  parts = parse_multipart("--B--\r\n", "B");
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->empty());
}

TEST(Multipart, RefusesMalformedBodies) {
  const std::string ok_head = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n";
  for (const std::string& bad : {
           std::string(""),                                                         // nothing
           std::string("no delimiter at all"),                                      // no boundary
           ok_head + "truncated",                                                   // no closing delimiter
           std::string("--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--"),  // no name
           std::string("--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--"),        // no disposition
           std::string("--B\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--B--"),
           std::string("--B\r\nContent-Disposition: form-data; name=\"open\r\n\r\nx\r\n--B--"),
           std::string("--B\r\nno colon\r\n\r\nx\r\n--B--"),
           std::string("--Bgarbage\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--B--"),
           std::string("--B\r\nContent-Disposition: form-data; name=a\r\n") + std::string(10000, 'h'),
       }) {
    auto parts = parse_multipart(bad, "B");
    EXPECT_FALSE(parts.ok()) << bad.substr(0, 80);
    if (!parts.ok()) {
      EXPECT_EQ(parts.error().kind, ErrorKind::kBadRequest);
    }
  }
}

TEST(Multipart, BoundsThePartCount) {
  std::string body;
  for (int i = 0; i < 70; ++i) body += "--B\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  body += "--B--";
  EXPECT_FALSE(parse_multipart(body, "B").ok());
  EXPECT_TRUE(parse_multipart(body, "B", {100, 8192}).ok());
}

TEST(Multipart, BoundaryFromTheContentType) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data; BOUNDARY=\"a b;c\""), "a b;c");
  EXPECT_EQ(multipart_boundary("application/json").error().kind, ErrorKind::kUnprocessable);
  EXPECT_FALSE(multipart_boundary("multipart/form-data").ok());
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')).ok());
}

TEST(Form, TargetsArePercentDecodedPerSegment) {
  auto target = parse_target("/api/assets/1%2F2/thumbnail?size=preview&q=a+b%21&flag");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->segments, (std::vector<std::string>{"api", "assets", "1/2", "thumbnail"}));
  EXPECT_EQ(target->query.find("size")->second, "preview");
  EXPECT_EQ(target->query.find("q")->second, "a b!");
  EXPECT_EQ(target->query.find("flag")->second, "");
  EXPECT_FALSE(parse_target("http://evil/x").ok() && parse_target("http://evil/x")->segments.empty());
  EXPECT_FALSE(parse_target("/a%zz").ok());
  EXPECT_FALSE(parse_target("*").ok());
}

TEST(Form, UrlencodedIsLenientLikeBrowsers) {
  const auto fields = parse_urlencoded("entries=%7B%22a%22:1%7D&text=a+b&bad=%zz&empty&=v");
  EXPECT_EQ(fields.find("entries")->second, "{\"a\":1}");
  EXPECT_EQ(fields.find("text")->second, "a b");
  EXPECT_EQ(fields.find("bad")->second, "%zz");
  EXPECT_EQ(fields.find("empty")->second, "");
}

TEST(Form, MediaTypesAndCookies) {
  auto media = parse_media_type("Text/HTML ; Charset=\"utf-8\"; q=1");
  ASSERT_TRUE(media);
  EXPECT_EQ(media->type, "text/html");
  EXPECT_EQ(media->params.at("charset"), "utf-8");
  EXPECT_FALSE(parse_media_type("nonsense"));
  EXPECT_FALSE(parse_media_type("a/b; x=\"open"));
  EXPECT_EQ(*cookie_value("theme=dark; immich_access_token=abc", "immich_access_token"), "abc");
  EXPECT_FALSE(cookie_value("x_immich_access_token=abc", "immich_access_token"));
}

}  // namespace
}  // namespace focal::http
