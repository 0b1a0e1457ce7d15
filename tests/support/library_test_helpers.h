// SPDX-License-Identifier: AGPL-3.0-or-later
// Pieces the library-server test suites share: an ML client with no service behind it, and a one-number query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ml_client/ml_client.h"
#include "store/database.h"

namespace focal::test_support {

// Every call is unavailable, as with no ML service reachable. Test fakes derive from it and override the calls
// they answer.
class UnavailableMl : public ml::MlClient {
 public:
  Expected<std::vector<float>> clip_image(std::string_view, std::string_view) override {
    return unavailable();
  }
  Expected<std::vector<float>> clip_text(std::string_view, std::string_view, std::string_view) override {
    return unavailable();
  }
  Expected<ml::FaceDetection> detect_faces(std::string_view, std::string_view, double,
                                           std::string_view) override {
    return unavailable();
  }
  Expected<std::vector<ml::TextLine>> ocr(std::string_view, const ml::OcrOptions&,
                                          std::string_view) override {
    return unavailable();
  }

 private:
  static Error unavailable() { return Error{ErrorKind::kUnavailable, "no ML service in this test"}; }
};

// The first column of the first row of `sql` (e.g. a count).
inline Expected<std::int64_t> query_number(store::Database& db, const std::string& sql) {
  return db.read([&](store::Connection& c) -> Expected<std::int64_t> {
    auto statement = c.prepare(sql);
    if (!statement) return statement.error();
    auto row = statement->step();
    if (!row) return row.error();
    return statement->int64(0);
  });
}

}  // namespace focal::test_support
