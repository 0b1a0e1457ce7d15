// SPDX-License-Identifier: AGPL-3.0-or-later
// The /predict pipeline, independent of the HTTP library: form fields in, status + body out.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "image/decode.h"
#include "ml_server/request.h"
#include "ml_server/response.h"

namespace focal {

struct PredictInputs {
  const RgbImage* image = nullptr;    // set for image requests
  const std::string* text = nullptr;  // set for text requests
};

// One (task, type) implementation. Thread-safe: called concurrently for different requests.
class TaskHandler {
 public:
  virtual ~TaskHandler() = default;
  // `dependency` is the phase-1 (detection) output of the same task for phase-2 entries, null otherwise.
  virtual Expected<TaskOutput> run(const Entry& entry, const PredictInputs& inputs,
                                   const TaskOutput* dependency) = 0;
};

class TaskRegistry {
 public:
  void add(Task task, ModelType type, std::shared_ptr<TaskHandler> handler);
  TaskHandler* find(Task task, ModelType type) const;

 private:
  std::map<std::pair<Task, ModelType>, std::shared_ptr<TaskHandler>> handlers_;
};

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
