// SPDX-License-Identifier: AGPL-3.0-or-later
// The task contract between the predict pipeline (ml_server) and the model families (clip, faces, ocr): a
// handler per (task, type) turns an entry and the request's inputs into a typed output. No HTTP, no JSON.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/error.h"
#include "image/decode.h"
#include "tasks/entry.h"
#include "tasks/output.h"

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

}  // namespace focal
