// SPDX-License-Identifier: AGPL-3.0-or-later
// Internal to focal_infer: dynamic batching of concurrent run() calls on one session (see BatchingConfig).
#pragma once

#include <onnxruntime_cxx_api.h>

#include <condition_variable>
#include <mutex>
#include <span>
#include <vector>

#include "core/error.h"
#include "infer/session.h"

namespace focal::detail {

// Leader/follower batching without a thread of its own: the first caller to find no batch collecting waits
// up to the delay (or until the batch is full), takes the waiting compatible calls, runs them as one, and
// hands each caller its rows. Calls that do not fit wait for the next leader, which is one of them.
class Batcher {
 public:
  Batcher(const InferenceSession& session, BatchingConfig config, BatchObserver observer);
  Expected<std::vector<Ort::Value>> run(std::span<const Ort::Value> inputs);

 private:
  struct Call;
  std::vector<Call*> take_batch();  // under mutex_
  void execute(const std::vector<Call*>& batch);

  const InferenceSession& session_;
  BatchingConfig config_;
  BatchObserver observer_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Call*> pending_;
  std::int64_t pending_rows_ = 0;
  bool collecting_ = false;  // a leader is waiting for its batch to fill
};

// Splits [N, ...] tensors into per-caller row ranges and joins them (exposed for tests).
Expected<Ort::Value> concat_rows(std::span<const Ort::Value* const> parts);
Expected<Ort::Value> slice_rows(const Ort::Value& whole, std::int64_t first_row, std::int64_t rows);

}  // namespace focal::detail
