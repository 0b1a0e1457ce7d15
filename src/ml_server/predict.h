// SPDX-License-Identifier: AGPL-3.0-or-later
// The /predict pipeline, independent of the HTTP library: form fields in, status + body out.
#pragma once

#include <optional>
#include <string>

#include "image/decode.h"
#include "ml_server/request.h"
#include "ml_server/response.h"
#include "tasks/tasks.h"

namespace focal {

struct PredictForm {
  std::optional<std::string> entries;
  std::optional<std::string> image;
  std::optional<std::string> text;
};

struct PredictLimits {
  EntriesLimits entries;
  DecodeLimits decode;
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

Reply error_reply(const Error& error);

// Measurements of one /predict for /metrics. Called on the request's thread.
class PredictObserver {
 public:
  virtual ~PredictObserver() = default;
  virtual void on_decode(double seconds) = 0;
  // One entry ran: `preprocess_s` is its time outside ORT Run (pre- and post-processing, model lookup),
  // `inference_s` its time in Run, including any wait for a dynamic batch. `error` is null on success.
  virtual void on_entry(const Entry& entry, double preprocess_s, double inference_s, const Error* error) = 0;
};

Reply predict(const PredictForm& form, const TaskRegistry& registry, const PredictLimits& limits,
              PredictObserver* observer = nullptr);

}  // namespace focal
